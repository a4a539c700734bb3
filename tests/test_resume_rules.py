"""A dataset made by an older synthfake, whose scan applied other rules to the same files, resumes from its own
sources index; a source file that really changed is still refused, by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from synthfake.manifest import read_records
from synthfake.sources import SCAN_VERSION, load_index, scan

from conftest import gen

# what synthfake up to c124dac applied to the same files: identities named by stem alone (two people's
# IMG_0001.JPG were one name) and copies not kept out
OLD_RULES = ("import sys; from pathlib import Path; import synthfake.identities as i, synthfake.sources as s; "
             "i.file_names = lambda paths: {p: Path(p).stem for p in paths}; s._exclude_copies = lambda items: None; "
             "from synthfake.entry import main; sys.argv[0] = 'gen'; main()")
RUN = ("run", "--type", "face_swap", "--n", 3, "--reals", 2, "--splits", "train=1,val=0,test=0", "--quiet")


def _made(out):
    """Every record as written but for when and how long, and every media file's bytes."""
    records = sorted((r.model_dump(exclude={"created", "elapsed_s"}) for r in read_records(out)),
                     key=lambda r: r["index"])
    return records, {p.relative_to(out): p.read_bytes() for p in (out / "media").rglob("*") if p.is_file()}


SWAP_FIELDS = dict(n=2, reals=2, ratios={"face_swap": 0.3}, splits={"train": 1.0, "val": 0.0, "test": 0.0},
                   backends={"face_swap": "landmark_swap", "real": "reencode"})


def _photos(data_dir, src, names=("photo_s1.jpg", "photo_s12.jpg")):
    """A sources folder `src` holding these face photos of the shared data."""
    (src / "faces").mkdir(parents=True)
    for name in names:
        shutil.copy(data_dir / "faces" / name, src / "faces" / name)
    return src


def _begun(src, out):
    """A dataset `out` planned (plan and sources index written) from `src` with SWAP_FIELDS."""
    from synthfake.dataset import Dataset

    Dataset.prepare(out, src, SWAP_FIELDS, 0.4).save()
    return out


def test_a_dataset_scanned_under_older_rules_resumes_and_a_changed_file_is_refused(data_dir, tmp_path):
    src, out = tmp_path / "src", tmp_path / "D"
    for rel, orig in (("faces/photo_s1.jpg", "photo_s1.jpg"), ("faces/photo_s1 copy.jpg", "photo_s1.jpg"),
                      ("faces/photo_s12.jpg", "photo_s12.jpg"), ("alice/IMG_0001.JPG", "still_talk_d0.jpg"),
                      ("bob/IMG_0001.JPG", "still_talk_d3.jpg")):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(data_dir / "faces" / orig, src / rel)
    old = subprocess.run([sys.executable, "-c", OLD_RULES, *map(str, RUN), "--sources", src, "--out", out],
                         capture_output=True, text=True, timeout=900)
    assert old.returncode == 0, old.stderr[-3000:]
    cached = load_index(out / "sources.json")
    assert {it.identity for it in cached.items if "IMG_0001" in it.path} == {"IMG_0001"}  # the older naming
    plan_bytes, index_bytes = (out / "plan.json").read_bytes(), (out / "sources.json").read_bytes()
    assert json.loads(plan_bytes)["sources_digest"] == cached.digest != scan(src, cached).digest
    made = _made(out)
    assert len(made[0]) == 5
    shutil.rmtree(out / "manifest")
    shutil.rmtree(out / "media")

    proc = gen(*RUN, "--sources", src, "--out", out)  # the current rules: the cached index is used, with a WARN
    warns = [line for line in proc.stderr.splitlines() if "sources index was made under other rules" in line]
    assert len(warns) == 1 and warns[0].startswith("WARN: ") and "a new --out applies" in warns[0], proc.stderr
    assert _made(out) == made  # the same records and media, to the byte
    assert (out / "plan.json").read_bytes() == plan_bytes and (out / "sources.json").read_bytes() == index_bytes

    proc = gen(*RUN, "--sources", src, "--out", out, "--identity-threshold", 0.5, check=False)
    assert proc.returncode == 2 and "drawn at --identity-threshold 0.4, not 0.5" in proc.stderr, proc.stderr

    shutil.copy(src / "alice" / "IMG_0001.JPG", src / "faces" / "photo_s12.jpg")  # a photo replaced by another
    proc = gen(*RUN, "--sources", src, "--out", out, check=False)
    assert proc.returncode == 2, proc.stderr
    assert ("1 file(s) under" in proc.stderr and "changed since this plan was made (faces/photo_s12.jpg changed)"
            in proc.stderr), proc.stderr
    assert (out / "sources.json").read_bytes() == index_bytes and _made(out) == made


def test_a_dataset_begun_before_square_pixels_with_an_anamorphic_clip_is_refused_by_name(data_dir, tmp_path):
    """Since scan version 2 a clip with non-square pixels is read at its shown width: a dataset whose sources index
    was written before (its landmarks and tracks of that clip taken on the stored width) is refused on resume,
    naming the clip; the same without such a clip, or with an index of today's, resumes."""
    from fractions import Fraction

    import pytest
    from clips import h264_clip

    from synthfake import media
    from synthfake.dataset import Dataset
    from synthfake.errors import PlanError

    src = _photos(data_dir, tmp_path / "src", ("photo_s1.jpg", "photo_s12.jpg", "still_talk_d0.jpg"))
    clip = src / "wide.mp4"  # stored 3/4 as wide as shown
    h264_clip(clip, media.read_frames(data_dir / "videos" / "talk_d3.mp4", 0, 10), (384, 512),
              lambda s: setattr(s.codec_context, "sample_aspect_ratio", Fraction(4, 3)))
    fields = SWAP_FIELDS
    out = _begun(src, tmp_path / "D")
    index = json.loads((out / "sources.json").read_text())
    assert index["scan_version"] == SCAN_VERSION and any(it["path"] == "wide.mp4" and it["excluded"] is None
                                               for it in index["items"])
    assert Dataset.prepare(out, src, fields, 0.4).plan  # an index of today's: resumes
    del index["scan_version"]  # as an older synthfake wrote it
    (out / "sources.json").write_text(json.dumps(index))
    assert scan(src, load_index(out / "sources.json")).scan_version == 1  # its entries, reused, keep its version
    with pytest.raises(PlanError, match=r"sources.json: begun by a synthfake that read non-square pixels as stored; "
                                        r"wide.mp4 now read at the shown width"):
        Dataset.prepare(out, src, fields, 0.4)
    clip.unlink()  # an older index without such a clip is not refused for it (a removed file is, by name)
    with pytest.raises(PlanError, match=r"changed since this plan was made \(wide.mp4 removed\)"):
        Dataset.prepare(out, src, fields, 0.4)
    square = tmp_path / "D2"
    Dataset.prepare(square, src, fields, 0.4).save()
    index = json.loads((square / "sources.json").read_text())
    del index["scan_version"]
    (square / "sources.json").write_text(json.dumps(index))
    assert Dataset.prepare(square, src, fields, 0.4).plan


def test_a_dataset_begun_before_sdr_mapping_with_an_hdr_clip_is_refused_by_name(data_dir, tmp_path):
    """Since scan version 3 an HDR clip is read mapped to SDR: a dataset whose sources index was written at version
    2 (its samples so far made from the clip's frames as stored) is refused on resume, naming the clip."""
    import pytest
    from clips import hdr_clip

    from synthfake import media
    from synthfake.dataset import Dataset
    from synthfake.errors import PlanError

    src = _photos(data_dir, tmp_path / "src")
    hdr_clip(src / "phone.mp4", media.read_frames(data_dir / "videos" / "talk_d3.mp4", 0, 10), "HLG")  # MIN_VIDEO_FRAMES
    fields = SWAP_FIELDS
    out = _begun(src, tmp_path / "D")
    assert Dataset.prepare(out, src, fields, 0.4).plan  # an index of today's: resumes
    index = json.loads((out / "sources.json").read_text())
    (out / "sources.json").write_text(json.dumps({**index, "scan_version": 2}))  # as the last synthfake wrote it
    with pytest.raises(PlanError, match=r"begun by a synthfake that read HDR and BT.2020 colour as stored; "
                                        r"phone.mp4 now read mapped to SDR BT.709"):
        Dataset.prepare(out, src, fields, 0.4)
