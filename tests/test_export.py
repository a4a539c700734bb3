"""`gen export`: each format against its consumer (DeepfakeBench's JSON rules, datasets.load_dataset, the
webdataset package), skipped records, resume, and training from an export without the original folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import gen
from synthfake.export.dfb_crop import KEYPOINTS, RES, frame_indices, template
from synthfake.manifest import read_records

DFB = json.loads((Path(__file__).parent / "fixtures" / "deepfakebench_8a4a7bf5.json").read_text())
DFB_FRAMES = 4  # frames per video in the test export (DeepfakeBench's default 32 is checked on the rules below)


@pytest.fixture(scope="module")
def exports(mixed_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    for fmt, extra in (("webdataset", ["--shard-size", 0.05]), ("hf", []), ("ffpp", []),
                       ("deepfakebench", ["--frames", DFB_FRAMES])):
        gen("export", mixed_dataset, "--format", fmt, "--out", root / fmt, "--quiet", *extra)
    gen("export", mixed_dataset, "--format", "hf", "--embed", "--out", root / "hf_embed", "--quiet")
    return root


def records(ds):
    return {r.id: r for r in read_records(ds)}


def test_mixed_dataset_covers_every_split_and_label(mixed_dataset):
    recs = records(mixed_dataset).values()
    assert {r.split for r in recs} == {"train", "val", "test"} and {r.label for r in recs} == {0, 1}


def test_webdataset_shards_iterate_with_the_webdataset_package(exports, mixed_dataset):
    import webdataset as wds

    recs = records(mixed_dataset)
    shards = sorted((exports / "webdataset").glob("*.tar"))
    assert all(re.fullmatch(r"(train|val|test)-\d{5}\.tar", p.name) for p in shards)
    assert len(shards) > 3  # 0.05 MB shards: more than one per split
    seen = {}
    for p in shards:
        for s in wds.WebDataset(str(p), shardshuffle=False):
            rec = json.loads(s["json"])
            media = s.get("mp4") or s.get("png") or s.get("jpg")
            assert hashlib.sha256(media).hexdigest() == recs[s["__key__"]].sha256
            assert p.name.startswith(rec["split"] + "-") and s["cls"] == str(rec["label"]).encode()
            seen[s["__key__"]] = rec["label"]
    assert seen == {i: r.label for i, r in recs.items()}
    # what a wds training pipeline does: decode, then (media, label) tuples with the label as an int
    pipeline = (wds.WebDataset([str(p) for p in shards], shardshuffle=False).decode()
                .to_tuple("png;jpg;mp4", "cls", "__key__"))
    assert {key: label for _, label, key in pipeline} == {i: r.label for i, r in recs.items()}


@pytest.mark.parametrize("folder", ["hf", "hf_embed"])
def test_hf_export_loads_with_datasets(exports, mixed_dataset, folder, tmp_path, monkeypatch):
    import datasets

    recs = records(mixed_dataset)
    # a cache of this test's own: datasets' shared cache keys a local folder by its path, and pytest reuses
    # /tmp/pytest-of-USER paths across runs, so a shared cache can serve another run's export
    ds = datasets.load_dataset(str(exports / folder), cache_dir=str(tmp_path / "hf_cache"))
    hf_split = {"val": "validation"}
    assert set(ds) == {hf_split.get(r.split, r.split) for r in recs.values()} and "validation" in ds
    monkeypatch.chdir(exports / folder)  # media beside the Parquet files open relative to the working directory
    for split, part in ds.items():
        assert part.features["label"].names == ["real", "fake"]
        assert isinstance(part.features["image"], datasets.Image) and isinstance(part.features["video"], datasets.Video)
        want = {i: r.label for i, r in recs.items() if hf_split.get(r.split, r.split) == split}
        assert dict(zip(part["id"], part["label"])) == want
        raw = part.cast_column("image", datasets.Image(decode=False)).cast_column("video", datasets.Video(decode=False))
        for row in raw:
            media = row["image"] or row["video"]
            data = media["bytes"] if folder == "hf_embed" else (exports / folder / media["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == recs[row["id"]].sha256
            assert (row["image"] is None) == (recs[row["id"]].media.kind == "video")
        img = next((i for i, r in enumerate(part["media_kind"]) if r == "image"), None)
        if img is not None:  # decoded by datasets itself: the very pixels of the PNG
            import numpy as np
            from PIL import Image

            got = np.asarray(part[img]["image"])
            path = recs[part[img]["id"]].path
            assert (got == np.asarray(Image.open(mixed_dataset / path))).all()
    text = (exports / folder / "README.md").read_text()
    from huggingface_hub import DatasetCard

    card = DatasetCard(text)
    assert card.data.license == "other" and card.data.license_name and "{this folder}" not in text
    assert {c["split"] for c in card.data.configs[0]["data_files"]} == set(ds)
    counts = Counter(r.backend for r in recs.values())
    for backend, c in counts.items():
        assert f"| {backend} | {c} |" in text
    assert "non-commercial" in text.lower() and '"seed"' in text and str((exports / folder).resolve()) in text
    from synthfake import software

    assert f"av {software.current()['av']}, " in text  # the libraries that wrote the media (one set: one run here)


def test_hf_card_licence_comes_from_the_flag(mixed_dataset, tmp_path):
    from huggingface_hub import DatasetCard

    gen("export", mixed_dataset, "--format", "hf", "--embed", "--license", "cc-by-nc-4.0", "--out", tmp_path / "H",
        "--quiet")
    card = DatasetCard((tmp_path / "H" / "README.md").read_text())
    assert card.data.license == "cc-by-nc-4.0" and "license_name" not in card.data.to_dict()


def test_every_registered_backend_has_a_licence_line_on_the_card():
    """The card said 'unknown backend: check its model licence' for every default backend (the stand-ins were
    registered after the table was written; sweep of 7 Dec), and its non-commercial warning reads the same table."""
    from synthfake.export.card import LICENCES
    from synthfake.generators import BACKENDS

    assert set(BACKENDS) <= set(LICENCES), sorted(set(BACKENDS) - set(LICENCES))


def _ffpp_loader(out, split):
    """The names FF++'s loaders build from a split's pairs: originals T and S, fakes T_S and S_T."""
    pairs = json.loads((out / "splits" / f"{split}.json").read_text())
    assert all(len(p) == 2 and all(re.fullmatch(r"\d{3,}", x) for x in p) for p in pairs)
    return {x for p in pairs for x in p}, {f"{a}_{b}" for a, b in pairs} | {f"{b}_{a}" for a, b in pairs}


def test_ffpp_names_follow_t_s_and_every_file_is_in_its_split(exports, mixed_dataset):
    out, recs = exports / "ffpp", records(mixed_dataset)
    names = json.loads((out / "names.json").read_text())
    numbers = json.loads((out / "numbers.json").read_text())
    assert sorted(v["id"] for v in names.values()) == sorted(recs)
    loader = {s: _ffpp_loader(out, s) for s in ("train", "val", "test")}
    for rel, v in names.items():
        r = recs[v["id"]]
        assert (out / rel).read_bytes() == (mixed_dataset / r.path).read_bytes()
        originals, fakes = loader[r.split]
        others = [loader[s] for s in loader if s != r.split]
        if r.label == 0:
            assert rel.startswith("original_sequences/youtube/c23/") and re.fullmatch(r"\d{3,}", v["name"])
            assert v["name"] in originals and not any(v["name"] in o for o, _ in others)
            assert numbers[v["name"]]["real"] == r.id
        else:
            assert rel.startswith(f"manipulated_sequences/{r.backend}/c23/")
            assert re.fullmatch(r"\d{3,}_\d{3,}", v["name"])
            assert v["name"] in fakes and not any(v["name"] in f for _, f in others)
            t, s = v["name"].split("_")
            paired = [x for x in recs.values() if x.params.get("paired_with") == r.id]
            if paired:  # T is the original of the very clip the fake was made on
                assert numbers[t]["real"] == paired[0].id
            assert numbers[s]["source"] in {x.path for x in r.sources} | {None}
    by_split = {s: o for s, (o, _) in loader.items()}
    assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["val"])


def test_deepfakebench_json_and_folders_follow_its_dataset_class(exports, mixed_dataset):
    out, recs = exports / "deepfakebench", records(mixed_dataset)
    info = json.loads((out / "dataset_json" / "synthfake.json").read_text())
    labels = info["synthfake"]
    got = {}
    for label, modes in labels.items():
        assert sorted(modes) == DFB["modes"]
        for mode, videos in modes.items():
            for vid, entry in videos.items():  # what collect_img_and_label_for_one_dataset reads
                r = recs[vid]
                assert entry["label"] == label and r.split == mode
                keys = DFB["entry_keys_fake"] if r.label else DFB["entry_keys_real"]
                assert sorted(entry) == keys
                frames = sorted(entry["frames"], key=lambda x: int(x.split("/")[-1].split(".")[0]))
                idx = [int(f.split("/")[-1].split(".")[0]) for f in frames]
                assert idx and set(idx) <= set(frame_indices(r.media.frames, DFB_FRAMES))
                for f in frames:
                    assert f[0] == DFB["frame_path_first_char"] and f.count("frames") == 1
                    local = out / f.removeprefix("./datasets/rgb/")
                    lm = np.load(str(local).replace("frames", "landmarks").replace(".png", ".npy"))
                    assert lm.shape[0] in DFB["landmark_points_allowed"] and lm.dtype.kind == DFB["landmark_dtype_kind"]
                    import cv2

                    assert cv2.imread(str(local)).shape == (DFB["crop_size"], DFB["crop_size"], 3)
                got[vid] = r.label
    assert got == {i: r.label for i, r in recs.items()}  # every sample here has faces
    readme = (out / "README.md").read_text()
    assert all(f"{lb}: {1 if lb != 'SF-real' else 0}" in readme for lb in labels)
    one = json.loads((out / "dataset_json" / "synthfake-face_swap.json").read_text())
    assert sorted(one["synthfake-face_swap"]) == ["SF-face_swap", "SF-real"]
    clips = json.loads((out / "dataset_json" / "synthfake-video.json").read_text())["synthfake-video"]
    in_clips = {vid: e for modes in clips.values() for videos in modes.values() for vid, e in videos.items()}
    assert set(in_clips) == {i for i, r in recs.items() if r.media.kind == "video"} and in_clips  # photos skip
    assert all(len(e["frames"]) > 1 for e in in_clips.values())  # there (1-frame videos for video_mode)
    assert "lmdb: false" in readme and "test_config.yaml" in readme and "ucf" in readme


def test_deepfakebench_landmarks_agree_with_a_fresh_detection_on_the_crop(exports):
    """The saved landmarks are the frame's mapped through the alignment; DeepfakeBench detects again on the crop.
    On 2,364 real crops the two agreed to 1.0 px median per point (95th percentile 3.0; 5.1 on this export's 24;
    the jaw line the loosest)."""
    import cv2

    from synthfake import faces

    dists = []
    for png in sorted((exports / "deepfakebench" / "synthfake").glob("*/frames/*/*.png")):
        crop = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        saved = np.load(str(png).replace("frames", "landmarks").replace(".png", ".npy"))
        boxes = faces.detect_boxes(crop)
        assert boxes, f"{png}: the aligned crop holds no face dlib finds"
        d = np.linalg.norm(saved - faces.landmarks(crop, boxes[0]), axis=1)
        assert np.median(d) < 3, f"{png}: saved landmarks {np.median(d):.1f} px (median) from a fresh detection"
        dists.append(d)
    d = np.concatenate(dists)
    assert len(dists) > 10 and np.median(d) < 1.5 and np.percentile(d, 95) < 8


def test_deepfakebench_crop_rules_match_the_checked_commit():
    assert np.abs(template() - np.array(DFB["template_256_scale_1.3"])).max() < 1e-3
    assert list(KEYPOINTS) == DFB["keypoint_indices"] and RES == DFB["crop_size"]
    for count, want in DFB["frame_indices_num_frames_32"].items():
        assert frame_indices(int(count), 32) == want


def test_missing_corrupt_and_escaping_media_are_skipped_one_line_each(mixed_dataset, tmp_path):
    ds = tmp_path / "D"
    shutil.copytree(mixed_dataset, ds, ignore=shutil.ignore_patterns("cache"))
    recs = sorted(read_records(ds), key=lambda r: r.index)
    (ds / recs[0].path).unlink()
    (ds / recs[1].path).write_bytes(b"not a video")
    outside = tmp_path / "outside.bin"
    shutil.copyfile(ds / recs[2].path, outside)
    (ds / recs[2].path).unlink()
    os.symlink(outside, ds / recs[2].path)
    proc = gen("export", ds, "--format", "webdataset", "--out", tmp_path / "W", "--quiet")
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("skipped")]
    assert len(lines) == 3
    assert recs[0].path in lines[0] or any(recs[0].path in ln and "missing" in ln for ln in lines)
    assert any(recs[1].path in ln and "corrupt" in ln for ln in lines)
    assert any(recs[2].path in ln and "escapes" in ln for ln in lines)
    marker = json.loads((tmp_path / "W" / "export.json").read_text())
    assert marker["exported"] == len(recs) - 3 and len(marker["skipped"]) == 3


def test_rerun_resumes_and_another_export_in_the_same_folder_is_refused(mixed_dataset, tmp_path):
    out = tmp_path / "W"
    gen("export", mixed_dataset, "--format", "webdataset", "--out", out, "--quiet")
    before = {p.name: p.read_bytes() for p in out.glob("*.tar")}
    victim = sorted(before)[0]
    (out / victim).unlink()
    (out / "export.json").unlink()  # as if killed before the end
    gen("export", mixed_dataset, "--format", "webdataset", "--out", out, "--quiet")
    assert {p.name: p.read_bytes() for p in out.glob("*.tar")} == before
    proc = gen("export", mixed_dataset, "--format", "ffpp", "--out", out, check=False)
    assert proc.returncode == 2 and "holds another export" in proc.stderr


def test_a_rerun_writes_again_what_was_cut_short_or_replaced_since(mixed_dataset, tmp_path):
    """A rerun kept every file already there by its name, so a tar or Parquet shard cut short, or a copied media
    file replaced, stayed broken under a finished export (7 Dec sweep). Now each is written again, byte for byte
    what the first export wrote."""
    def files(out):
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    for fmt in ("webdataset", "hf"):
        out = tmp_path / fmt
        gen("export", mixed_dataset, "--format", fmt, "--out", out, "--quiet")
        before = files(out)
        shard = sorted(p for p in out.rglob("*") if p.suffix in (".tar", ".parquet"))[0]
        shard.write_bytes(shard.read_bytes()[:3000])
        if fmt == "hf":
            media = sorted((out / "media").rglob("*.jpg"))[0]
            media.write_bytes(b"\xff\xd8 replaced")
        gen("export", mixed_dataset, "--format", fmt, "--out", out, "--quiet")
        assert files(out) == before, fmt


def test_a_deepfakebench_export_killed_mid_video_resumes_whole(exports, mixed_dataset, tmp_path):
    """A kill between a video's two renames (landmarks in place, frames not) and another process's temporary
    folders: the rerun makes the video again and leaves no temporary folder (before 6 Dec: 'Directory not empty'
    on every rerun, and stale .tmp folders inside a finished export)."""
    out = tmp_path / "dfb"
    shutil.copytree(exports / "deepfakebench", out)
    (out / "export.json").unlink()
    frames = sorted((out / "synthfake").glob("SF-*/frames/*"))[0]
    want = sorted(p.name for p in frames.iterdir())
    shutil.rmtree(frames)  # killed after the landmarks' rename
    (frames.parent / f".{frames.name}.99999.tmp").mkdir()  # another process's half-written folder
    (frames.parent / f".{frames.name}.99999.tmp" / "000.png").write_bytes(b"half")
    gen("export", mixed_dataset, "--format", "deepfakebench", "--out", out, "--frames", DFB_FRAMES, "--quiet")
    assert sorted(p.name for p in frames.iterdir()) == want
    assert not list(out.rglob(".*.tmp")) and (out / "export.json").is_file()


def test_reader_refuses_a_record_path_that_escapes(tmp_path):
    import io
    import tarfile

    from synthfake.export.reader import as_dataset

    out = tmp_path / "W"
    out.mkdir()
    rec = {"id": "abc", "path": "../../evil.png", "sha256": hashlib.sha256(b"x").hexdigest()}
    with tarfile.open(out / "train-00000.tar", "w") as tar:
        for name, data in (("abc.png", b"x"), ("abc.json", json.dumps(rec).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (out / "export.json").write_text(json.dumps({"format": "webdataset", "shards": ["train-00000.tar"]}))
    lines = []
    with pytest.raises(Exception, match="no readable sample"):
        as_dataset(out, lines.append)
    assert len(lines) == 1 and "invalid record" in lines[0]
    assert not (tmp_path / "evil.png").exists()


def test_a_shard_cut_short_is_one_line_naming_it(tmp_path):
    """A webdataset tar or an hf Parquet file cut short (a copy or download that stopped) ended detect train, eval
    and export in tarfile's or pyarrow's traceback."""
    import io
    import tarfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthfake.errors import SynthfakeError
    from synthfake.export.reader import as_dataset

    out = tmp_path / "W"
    out.mkdir()
    with tarfile.open(out / "train-00000.tar", "w") as tar:
        for k in range(4):
            data = os.urandom(5000)
            info = tarfile.TarInfo(f"s{k}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    shard = out / "train-00000.tar"
    shard.write_bytes(shard.read_bytes()[:12000])
    (out / "export.json").write_text(json.dumps({"format": "webdataset", "shards": ["train-00000.tar"]}))
    with pytest.raises(SynthfakeError, match=rf"^{re.escape(str(shard))}: not a whole tar shard \("):
        as_dataset(out, print)

    hf = tmp_path / "H"
    (hf / "data").mkdir(parents=True)
    part = hf / "data" / "train-00000.parquet"
    pq.write_table(pa.table({"record": ["{}"] * 50, "image": [None] * 50, "video": [None] * 50}), part)
    part.write_bytes(part.read_bytes()[:300])
    (hf / "export.json").write_text(json.dumps({"format": "hf", "files": {"train": ["data/train-00000.parquet"]}}))
    with pytest.raises(SynthfakeError, match=rf"^{re.escape(str(part))}: not a whole Parquet file \("):
        as_dataset(hf, print)


def test_detect_train_reads_a_webdataset_export_without_the_original_folder(exports, mixed_dataset, tmp_path):
    """A copy of the export, away from the dataset, trains (a few-second tiny run) and holds every record."""
    pytest.importorskip("torch")
    moved = tmp_path / "moved"
    shutil.copytree(exports / "webdataset", moved, ignore=shutil.ignore_patterns(".dataset"))
    proc = gen("detect", "train", moved, "--out", tmp_path / "M", "--image-size", 32, "--epochs", 0.01,
               "--batch-size", 4, "--frames", 1, "--score-frames", 1, "--workers", 0, "--quiet")
    assert (tmp_path / "M" / "model.safetensors").is_file(), proc.stderr
    view = moved / ".dataset"
    assert {r.id: r.label for r in read_records(view)} == {i: r.label for i, r in records(mixed_dataset).items()}


@pytest.mark.parametrize("fmt", ["hf", "hf_embed"])
def test_parquet_export_unpacks_to_a_dataset_the_detector_reads(exports, mixed_dataset, tmp_path, fmt):
    from synthfake.export.reader import as_dataset
    from synthfake.manifest import resolve

    moved = tmp_path / "moved"
    shutil.copytree(exports / fmt, moved, ignore=shutil.ignore_patterns(".dataset"))
    view = as_dataset(moved, print)
    recs = records(mixed_dataset)
    got = read_records(view)
    assert {r.id: r.split for r in got} == {i: r.split for i, r in recs.items()}
    for r in got:
        assert hashlib.sha256(resolve(view, r).read_bytes()).hexdigest() == r.sha256
