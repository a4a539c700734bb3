"""`gen audit`: one real generated dataset, copied per test, with one planted defect per copy.

Each planted defect must make exactly its check FAIL and leave every other check at PASS; the clean
dataset passes all. The numbers behind each verdict are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import gen
from PIL import Image

from synthfake import media
from synthfake.audit import exact_dupes, near_dupes
from synthfake.audit import run_audit
from synthfake.audit.balance import compare
from synthfake.audit.base import FAIL, PASS, WARN, Settings
from synthfake.audit.confounds import chance_p, single_auc
from synthfake.audit.headers import jpeg_quality
from synthfake.audit.near_dupes import near_pairs
from synthfake.files import sha256_file
from synthfake.audit.integrity import parse_manifests
from synthfake.manifest import Record, read_records
from synthfake.shared_types import MediaMeta
from synthfake.shared_types import PAIR_ROLE
from synthfake.sources import load_index

CHECKS = ("integrity", "balance", "exact_duplicates", "near_duplicates", "identity", "confounds", "signal_confounds",
          "label_noise", "artefacts")


@pytest.fixture(scope="module")
def base(data_dir, dataset_dir) -> Path:
    """8 face swaps and 8 paired reals (photos and 1 s clips) from the shared media, made once, by aligned_swap
    (its pairs end with one JPEG encode: landmark_swap before 2.5, without it, failed signal_confounds here on face
    blockiness, AUC 0.10, p 0.03)."""
    out = dataset_dir("audit")
    gen("run", "--type", "face_swap", "--backend", "face_swap=aligned_swap", "--n", 8, "--reals", 8,
        "--clip-seconds", 1, "--sources", data_dir, "--out", out, "--workers", 1, "--quiet")
    return out


@pytest.fixture
def ds(base, tmp_path) -> Path:
    dst = tmp_path / "D"
    shutil.copytree(base, dst)
    return dst


def audit(path: Path, *only: str):
    """Every check (or integrity and `only`), in this process: the `gen audit` CLI tests run the pool."""
    return run_audit(path, Settings(workers=0, checks=only or None, show_progress=False))


def verdicts(checks) -> dict[str, str]:
    return {c["name"] if isinstance(c, dict) else c.name: c["status"] if isinstance(c, dict) else c.status
            for c in checks}


def show(checks) -> None:
    for c in checks:
        name, status, summary = (c["name"], c["status"], c["summary"]) if isinstance(c, dict) else \
            (c.name, c.status, c.summary)
        print(f"  {name}: {status}: {summary}")


def assert_only(report, failing: str) -> None:
    show(report.checks)
    assert verdicts(report.checks) == {n: FAIL if n == failing else PASS for n in CHECKS}
    assert report.status == FAIL


def rewrite(ds: Path, edit) -> None:
    """Apply edit(record) -> record | None to every manifest line (None keeps the line as it is)."""
    for f in (ds / "manifest").glob("part-*.jsonl"):
        recs = [Record.model_validate_json(line) for line in f.read_text().splitlines() if line.strip()]
        f.write_text("".join((edit(r) or r).model_dump_json() + "\n" for r in recs))


def with_file(r: Record, path: Path, **update) -> Record:
    """The record updated to the bytes now in its file."""
    return r.model_copy(update={"sha256": sha256_file(path), "bytes": path.stat().st_size, **update})


# ------------------------------------------------------------------ the real dataset
def test_clean_dataset_passes_all_and_cli_exits_0(base, tmp_path):
    report = tmp_path / "report.json"
    proc = gen("audit", base, "--json", report, "--quiet", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audit of" in proc.stdout and "PASS" in proc.stdout
    rep = json.loads(report.read_text())
    show(rep["checks"])
    assert verdicts(rep["checks"]) == {n: PASS for n in CHECKS}
    by = {c["name"]: c["details"] for c in rep["checks"]}
    faces = by["identity"]["faces"]
    print("  held-out face distances to train identity centroids:",
          [(d["id"], d["split"], d["nearest_train"], d["distance"]) for d in faces["distances"]],
          "flag below", faces["flag_distance"])
    print("  confound AUCs:", {p["property"]: p["auc"] for p in by["confounds"]["properties"]})
    print("  near-duplicate pairs:", by["near_duplicates"]["counts"])
    print("  smallest changed-pixel share of a fake:", by["label_noise"]["changed_share_min"])
    assert faces["with_face"] >= 2 and faces["distance_min"] > faces["flag_distance"]
    assert by["integrity"]["present"] == by["integrity"]["planned"] == 16
    assert by["label_noise"]["rechecked"] == 8
    assert by["near_duplicates"]["counts"]["declared_pairs"] >= 1  # counted, not flagged


def test_flipped_byte_fails_integrity_only(ds, tmp_path):
    rec = next(r for r in read_records(ds) if r.media.kind == "video" and r.label == 1)
    p = ds / rec.path
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    report = tmp_path / "r.json"
    proc = gen("audit", ds, "--json", report, "--quiet", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = json.loads(report.read_text())
    show(rep["checks"])
    assert verdicts(rep["checks"]) == {n: FAIL if n == "integrity" else PASS for n in CHECKS}
    integrity = rep["checks"][0]["details"]
    assert integrity["counts"]["sha256_mismatch"] == 1 and rec.id in integrity["examples"]["sha256_mismatch"][0]


def test_copied_file_under_another_id_fails_exact_duplicates_only(ds):
    """B's file becomes a copy of A's and B's manifest line a copy of A's under B's id (a consistent record)."""
    fakes = [r for r in read_records(ds) if r.split == "train" and r.label == 1 and r.media.kind == "image"]
    a, b = fakes[0], fakes[1]
    shutil.copyfile(ds / a.path, ds / b.path)
    rewrite(ds, lambda r: a.model_copy(update={"id": b.id, "index": b.index, "path": b.path, "seed": b.seed})
            if r.id == b.id else None)
    report = audit(ds)
    assert_only(report, "exact_duplicates")
    ex = report.check("exact_duplicates").details["examples"][0]
    assert sorted(ex["ids"]) == sorted([a.id, b.id])


def test_identity_moved_across_splits_fails_identity_only(ds):
    """A held-out real goes to train (record split edited, file moved); its fake stays held out."""
    recs = {r.id: r for r in read_records(ds)}
    real = next(r for r in recs.values() if r.type == "real" and r.split != "train"
                and r.params.get("paired_with") in recs and recs[r.params["paired_with"]].split == r.split)
    new_path = f"media/train/real/{Path(real.path).name}"
    (ds / new_path).parent.mkdir(parents=True, exist_ok=True)
    os.replace(ds / real.path, ds / new_path)
    rewrite(ds, lambda r: r.model_copy(update={"split": "train", "path": new_path}) if r.id == real.id else None)
    report = audit(ds)
    assert_only(report, "identity")
    names = report.check("identity").details["names"]
    leaked = {e["identity"] for e in names["leak_examples"]}
    assert real.sources[0].identity in leaked and sorted(names["leak_examples"][0]["splits"]) != ["train"]
    assert report.check("near_duplicates").details["counts"]["declared_pairs_across_splits"] == 1


def test_one_person_under_two_names_fails_the_face_check(ds):
    """A train real of a photo-only identity moves to test under a new name: names pass, faces must not. When
    another train fake made on the same photo hashes close to it, near_duplicates may fail too (a real leak)."""
    index = load_index(ds / "sources.json")
    kinds: dict[str, set] = {}
    for it in index.items:
        kinds.setdefault(it.identity, set()).add(it.kind)
    recs = read_records(ds)

    def shared(r) -> bool:  # another train fake was made on its photo: moving it leaks pixels too
        return any(o.id not in (r.id, r.params.get("paired_with")) and o.split == "train" and
                   any(s.path == r.sources[0].path for s in o.sources) for o in recs)

    real = next(r for r in recs if r.type == "real" and r.split == "train"
                and kinds[r.sources[0].identity] == {"image"})
    alias = real.sources[0].identity + "_alias"
    new_path = f"media/test/real/{Path(real.path).name}"
    (ds / new_path).parent.mkdir(parents=True, exist_ok=True)
    os.replace(ds / real.path, ds / new_path)
    src = real.sources[0].model_copy(update={"identity": alias})
    rewrite(ds, lambda r: r.model_copy(update={"split": "test", "path": new_path, "sources": [src],
                                               "identities": [alias]}) if r.id == real.id else None)
    report = audit(ds)
    show(report.checks)
    failing = {n for n, v in verdicts(report.checks).items() if v == FAIL}
    assert "identity" in failing and failing <= {"identity", "near_duplicates"}, failing
    if "near_duplicates" in failing:  # only when another fake on its photo is within the hash distance
        assert shared(real) and real.id in report.check("near_duplicates").summary
    details = report.check("identity").details
    print("  flagged faces:", details["faces"]["flagged_examples"])
    assert details["names"]["leaks"] == 0
    assert [f["id"] for f in details["faces"]["flagged_examples"]] == [real.id]
    assert details["faces"]["flagged_examples"][0]["nearest_train"] == real.sources[0].identity


def test_reals_at_another_fps_fail_confounds_only(ds):
    """Every real video re-encoded at half its fps (every other frame, same duration), records updated."""
    updated = {}
    for r in read_records(ds):
        if r.type != "real" or r.media.kind != "video":
            continue
        p = ds / r.path
        frames = media.read_frames(p)[::2]
        audio = media.read_audio_of_video(p, 0, r.media.duration)
        tmp = p.with_name(f"{p.stem}.tmp.mp4")
        media.write_video(tmp, frames, Fraction(r.media.fps).limit_denominator(1001) / 2, audio)
        os.replace(tmp, p)
        info = media.probe(p)
        meta = r.media.model_copy(update={"fps": round(info.fps, 4), "frames": len(frames),
                                          "duration": round(info.duration, 4)})
        updated[r.id] = with_file(r, p, media=meta)
    assert updated, "the dataset has no real video to re-encode"
    rewrite(ds, lambda r: updated.get(r.id))
    report = audit(ds)
    assert_only(report, "confounds")
    fps = next(p for p in report.check("confounds").details["properties"] if p["property"] == "video.fps")
    print("  video.fps:", fps)
    assert fps["status"] == FAIL and fps["auc"] in (0.0, 1.0)
    assert "video.fps" in report.check("confounds").summary


def test_fake_that_is_its_target_fails_label_noise_only(ds):
    """A fake photo replaced by its target photo (PNG at another compression level: new bytes, same pixels)."""
    index = load_index(ds / "sources.json")
    fake = next(r for r in read_records(ds) if r.label == 1 and r.media.kind == "image")
    target = next(s for s in fake.sources if s.role == PAIR_ROLE[fake.type])
    rgb = media.read_image(Path(index.root) / target.path)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    (ds / fake.path).write_bytes(buf.tobytes())
    rewrite(ds, lambda r: with_file(r, ds / fake.path) if r.id == fake.id else None)
    report = audit(ds)
    assert_only(report, "label_noise")
    details = report.check("label_noise").details
    assert details["mostly_real"] == 1 and fake.id in details["mostly_real_examples"][0]


def test_symlink_out_of_the_root_fails_integrity_only(ds, tmp_path):
    """A media file replaced by a link to the same bytes outside the dataset: size and sha256 still match."""
    rec = next(r for r in read_records(ds) if r.media.kind == "image")
    outside = tmp_path / "elsewhere.png"
    shutil.move(ds / rec.path, outside)
    os.symlink(outside, ds / rec.path)
    report = audit(ds)
    assert_only(report, "integrity")
    assert report.check("integrity").details["counts"]["escaping_paths"] == 1


def test_not_a_dataset_is_one_line_exit_2(tmp_path):
    proc = gen("audit", tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "plan.json" in lines[0]


def test_check_runs_integrity_and_the_named_checks_only(base, tmp_path):
    """`--check NAME` (repeatable) runs integrity and NAME; a misspelt name is one line, exit 2, nothing run."""
    report = tmp_path / "r.json"
    gen("audit", base, "--check", "balance", "--check", "confounds", "--json", report, "--quiet")
    rep = json.loads(report.read_text())
    assert [c["name"] for c in rep["checks"]] == ["integrity", "balance", "confounds"]
    assert rep["settings"]["checks"] == ["balance", "confounds"] and rep["status"] == PASS
    proc = gen("audit", base, "--check", "near_duplicate", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "did you mean 'near_duplicates'" in lines[0], proc.stderr


# ------------------------------------------------------------------ checks that measured nothing, labelled folders
DECODING = ("near_duplicates", "signal_confounds", "label_noise", "artefacts")


def synthetic(tmp_path: Path, n: int, reals: int) -> Path:
    """A dataset of n fakes and `reals` reals whose records point at tiny undecodable files (no generation)."""
    from synthetic_dataset import plan_dataset, write_records, write_sources

    src = tmp_path / "src"
    ds = plan_dataset(tmp_path / "D", src, write_sources(src, files=24, people=8), n, reals)
    write_records(ds)
    return tmp_path / "D"


def test_max_samples_0_warns_where_nothing_was_measured(tmp_path):
    """`--max-samples 0`: the decoding checks sample nothing, so they WARN saying so (they said PASS over
    nothing), the overall verdict is WARN, not PASS, and the exit code stays WARN's: 0. The checks that read
    records and bytes measured them and still PASS."""
    ds = synthetic(tmp_path, 8, 8)
    report = tmp_path / "r.json"
    proc = gen("audit", ds, "--max-samples", 0, "--workers", 0, "--quiet", "--json", report, check=False)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(report.read_text())
    show(rep["checks"])
    by = {c["name"]: c for c in rep["checks"]}
    assert rep["status"] == WARN and "WARN" in proc.stdout.splitlines()[0]
    for name in DECODING:
        assert by[name]["status"] == WARN, by[name]
        assert "measured nothing: --max-samples 0" in by[name]["summary"], by[name]["summary"]
        assert by[name]["details"].get("not_measured", by[name]["summary"]).endswith("none sampled)")
    assert {n: by[n]["status"] for n in ("integrity", "balance", "exact_duplicates", "confounds")} == \
        dict.fromkeys(("integrity", "balance", "exact_duplicates", "confounds"), PASS)


def test_confounds_of_one_class_warn_no_auc(tmp_path):
    """A dataset of fakes only: no single-property AUC can be computed, so confounds WARNs (it said PASS)."""
    report = run_audit(synthetic(tmp_path, 8, 0), Settings(workers=0, checks=("confounds",), show_progress=False))
    show(report.checks)
    c = report.check("confounds")
    assert c.status == WARN and report.status == WARN
    assert c.summary == "measured nothing: one class only (8 fakes, no reals): no AUC"
    assert all(r["auc"] is None for r in c.details["properties"])


@pytest.fixture
def labelled(tmp_path) -> Path:
    """A labelled folder (not a dataset): two real PNG photos and two fake JPEGs, labels.csv of both classes and
    fakes.csv of the fakes alone."""
    d = tmp_path / "folder"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in ("r0.png", "r1.png", "f0.jpg", "f1.jpg"):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(d / name)
    (d / "labels.csv").write_text("path,label\nr0.png,0\nr1.png,0\nf0.jpg,1\nf1.jpg,1\n")
    (d / "fakes.csv").write_text("path,label\nf0.jpg,1\nf1.jpg,1\n")
    return d


def _audit_one_class(labelled, csv_name: str, tmp_path):
    """`gen audit FOLDER --labels CSV --json`: it exits 0; (the process, the JSON report)."""
    report = tmp_path / "a.json"
    proc = gen("audit", labelled, "--labels", labelled / csv_name, "--json", report, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(report.read_text())


def test_labelled_folder_of_one_class_warns_no_auc(labelled, tmp_path):
    """`gen audit FOLDER --labels CSV` whose CSV holds one class: WARN (it said PASS), naming the CSV, exit 0."""
    proc, rep = _audit_one_class(labelled, "fakes.csv", tmp_path)
    want = "measured nothing: one class only (2 fakes, no reals) in fakes.csv: no AUC"
    assert (rep["status"], rep["summary"]) == (WARN, want)
    assert f"WARN: {want}" in " ".join(proc.stdout.split())


def test_check_with_labels_runs_the_checks_that_apply_or_refuses(labelled, tmp_path):
    """`--check` with `--labels` runs the named checks of a labelled folder (confounds); a dataset's check or a
    misspelt name is one line, exit 2, listing the checks that apply (it was ignored: confounds ran)."""
    for name, why in (("balance", "a dataset's check only"),
                      ("confound", "unknown audit check (did you mean 'confounds'?)")):
        out = tmp_path / f"{name}.json"
        proc = gen("audit", labelled, "--labels", labelled / "labels.csv", "--check", name, "--json", out,
                   check=False)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stdout[-500:] + proc.stderr
        assert f"--check {name}: {why}; checks that apply to a labelled folder (--labels): confounds" in lines[0]
        assert "AUC alone" not in proc.stdout and not out.exists()  # nothing run, nothing written
    report = tmp_path / "a.json"
    proc = gen("audit", labelled, "--labels", labelled / "labels.csv", "--check", "confounds", "--json", report,
               check=False)
    assert proc.returncode in (0, 1) and "AUC alone" in proc.stdout, proc.stderr
    rep = json.loads(report.read_text())
    assert rep["checks"] == ["confounds"] and rep["status"] in (PASS, FAIL) and rep["properties"]


def test_corrupt_files_are_counted_once_and_never_decoded(tmp_path, monkeypatch):
    """A cut file is one size mismatch (it was a sha256 mismatch as well: "2 sha256 mismatch" for one sha-only
    corruption beside it), a changed byte one sha256 mismatch; neither reaches a decoding check, which get only the
    files whose size and sha256 match their record (they got every file that existed). Checks reading records
    and bytes still see every record."""
    from synthfake.audit import artefacts, exact_dupes as dupes
    from synthfake.audit.base import Check

    ds = synthetic(tmp_path, 8, 8)
    recs = sorted(read_records(ds), key=lambda r: r.id)
    cut, flipped = recs[0], recs[1]
    p = ds / cut.path
    p.write_bytes(p.read_bytes()[:-1])
    p = ds / flipped.path
    data = bytearray(p.read_bytes())
    data[0] ^= 0xFF
    p.write_bytes(bytes(data))
    seen: dict[str, list[str]] = {}

    def spy(name):
        def check(data, pool):
            seen[name] = sorted(r.id for r in data.records)
            return Check(name, PASS, "spied")
        return check

    monkeypatch.setattr(artefacts, "check", spy("artefacts"))
    monkeypatch.setattr(dupes, "check", spy("exact_duplicates"))
    report = audit(ds, "artefacts", "exact_duplicates")
    show(report.checks)
    integrity = report.check("integrity")
    counts = integrity.details["counts"]
    assert (counts["size_mismatch"], counts["sha256_mismatch"], counts["missing_files"]) == (1, 1, 0), counts
    assert cut.id in integrity.details["examples"]["size_mismatch"][0]
    assert flipped.id in integrity.details["examples"]["sha256_mismatch"][0]
    assert "1 size mismatch; 1 sha256 mismatch" in integrity.summary and integrity.status == FAIL
    assert seen["exact_duplicates"] == [r.id for r in recs]
    assert seen["artefacts"] == [r.id for r in recs[2:]]
    assert integrity.details["files_whole"] == len(recs) - 2


def test_labelled_folder_none_readable_is_one_line_exit_2(labelled, tmp_path):
    """A labels CSV none of whose files can be read (the wrong folder) is bad input: one line naming the folder
    and the CSV, exit 2, no report (it was a WARN, exit 0, that lets a CI gate pass)."""
    (labelled / "elsewhere.csv").write_text("path,label\nx/r0.png,0\nx/f0.jpg,1\n")
    report = tmp_path / "a.json"
    proc = gen("audit", labelled, "--labels", labelled / "elsewhere.csv", "--json", report, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stdout[-500:] + proc.stderr
    assert lines[0] == (f"error: {labelled}: none of the 2 files listed in {labelled / 'elsewhere.csv'} can be read "
                        f"(e.g. x/r0.png: file not found); are its paths relative to this folder?")
    assert not report.exists() and "AUC alone" not in proc.stdout


def test_labelled_folder_counts_the_files_it_read_and_names_a_folder(labelled, tmp_path):
    """A CSV of one class whose rows include a folder: the WARN counts the files read (2 reals; it said 3, the
    rows), and the folder is skipped as a folder (it was 'file not found')."""
    (labelled / "sub.png").mkdir()
    (labelled / "reals.csv").write_text("path,label\nr0.png,0\nr1.png,0\nsub.png,0\n")
    proc, rep = _audit_one_class(labelled, "reals.csv", tmp_path)
    want = "measured nothing: one class only (2 reals, no fakes) in reals.csv (1 listed file skipped): no AUC"
    assert (rep["status"], rep["summary"]) == (WARN, want)
    assert rep["skipped"] == [{"path": "sub.png", "reason": "a folder, not a file"}]
    assert f"{labelled / 'sub.png'}: a folder, not a file: skipped" in proc.stderr


# ------------------------------------------------------------------ the parts, on made-up numbers
def test_manifest_lines_are_judged_one_by_one(tmp_path):
    meta = MediaMeta(kind="image", width=2, height=2, frames=1, fps=0, duration=0, codec="png", audio=False)
    rec = Record(id="a", index=0, type="real", label=0, backend="reencode", backend_version="1", params={}, seed=0,
                 sources=[], identities=[], path="media/train/real/a.png", sha256="0" * 64, bytes=1, media=meta,
                 manipulated_frames=0, split="train", rank=0, world_size=1, host="h", elapsed_s=0, created="t")
    lines = [rec.model_dump_json(), rec.model_copy(update={"id": "b", "path": "../b.png"}).model_dump_json(),
             rec.model_dump_json().replace('"label":0', '"label":7'), rec.model_dump_json()[:40]]
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "part-00000-of-00001.jsonl").write_text("\n".join(lines))
    problems = {k: [] for k in ("torn_tail", "escaping_paths", "invalid_lines")}
    assert [r.id for r in parse_manifests(tmp_path, problems)] == ["a"]
    assert [len(problems[k]) for k in ("escaping_paths", "invalid_lines", "torn_tail")] == [1, 1, 1]
    assert problems["escaping_paths"][0].startswith("manifest/part-00000-of-00001.jsonl:2: path")
    assert ":3: label" in problems["invalid_lines"][0]


def test_jpeg_quality_is_estimated_from_the_quantisation_tables(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for q in (50, 75, 90):
        p = tmp_path / f"q{q}.jpg"
        Image.fromarray(rgb).save(p, quality=q)
        assert jpeg_quality(p) == q
    Image.fromarray(rgb).save(tmp_path / "x.png")
    assert jpeg_quality(tmp_path / "x.png") is None


def test_single_feature_auc_numbers_and_categories():
    y = np.array([0, 0, 0, 1, 1, 1])
    assert single_auc(y, [25, 25, 30, 25, 25, 30], False) == 0.5
    assert single_auc(y, [15, 15, 15, 30, 25, 30], False) == 1.0
    assert single_auc(y, [30, 30, 30, 15, 15, 15], False) == 0.0
    assert single_auc(y, ["jpeg", "jpeg", "jpeg", "png", "png", "png"], True) == 1.0
    assert single_auc(y, ["png"] * 6, True) == 0.5


def test_a_telling_auc_on_few_samples_is_chance_unless_the_split_is_clean():
    """4 vs 4 where one fake sits below every real: AUC 0.25 (at the FAIL line) yet p 0.34, noise; 8 vs 8 fully
    apart: p < 0.001; categories rank by their share of fakes."""
    y = np.array([0] * 4 + [1] * 4)
    values = [600, 700, 800, 900, 550, 650, 850, 950]
    assert single_auc(y, values, False) == 0.5
    values[7] = 500  # the top fake re-encoded smaller
    assert single_auc(y, values, False) == 0.25
    assert 0.3 < chance_p(y, values, False) < 0.4
    y16 = np.array([0] * 8 + [1] * 8)
    assert chance_p(y16, list(range(16)), False) < 0.001
    assert chance_p(y16, ["png"] * 8 + ["jpeg"] * 8, True) < 0.001
    assert chance_p(y16, ["png", "jpeg"] * 8, True) == 1.0


def test_near_pairs_within_hamming_distance(monkeypatch):
    h = np.array([0, 0b111, 2**64 - 1, 0b1], np.uint64)  # frames of records 0, 1, 2, 0
    owner = np.array([0, 1, 2, 0])
    assert near_pairs(h, owner, 2) == {(0, 1): 2}
    assert near_pairs(h, owner, 3) == {(0, 1): 2}
    everything = near_pairs(h, owner, 64)
    assert everything == {(0, 1): 2, (0, 2): 63, (1, 2): 61}
    monkeypatch.setattr(near_dupes, "BLOCK_PAIRS", 4)  # one row per block
    assert near_pairs(h, owner, 64) == everything


def test_balance_allows_tolerance_or_one_sample_of_rounding():
    planned = {("type", ""): Counter(face_swap=500, real=500)}
    close = compare(planned, {("type", ""): Counter(face_swap=510, real=490)}, 0.02)
    far = compare(planned, {("type", ""): Counter(face_swap=530, real=470)}, 0.02)
    assert {r["status"] for r in close} == {PASS} and {r["status"] for r in far} == {FAIL}
    plan4 = {("split", ""): Counter(train=3, test=1)}
    one_moved = compare(plan4, {("split", ""): Counter(train=2, test=2)}, 0.02)  # 0.25 off: one sample of 4
    two_moved = compare(plan4, {("split", ""): Counter(train=1, test=3)}, 0.02)
    assert {r["status"] for r in one_moved} == {PASS} and {r["status"] for r in two_moved} == {FAIL}


def test_fakes_with_16khz_audio_fail_confounds_only(ds):
    """Every fake video's audio resampled to 16 kHz mono outside the shared writer (the old lip-sync shortcut)."""
    from scipy.signal import resample_poly

    updated = {}
    for r in read_records(ds):
        if r.label != 1 or r.media.kind != "video" or not r.media.audio:
            continue
        p = ds / r.path
        data, rate = media.read_audio_of_video(p, 0, r.media.duration)
        low = resample_poly(data.mean(1, keepdims=True), 160, rate // 100, axis=0).astype(np.float32)
        tmp = p.with_name(f"{p.stem}.tmp.mp4")
        media.write_video(tmp, media.read_frames(p), Fraction(r.media.fps).limit_denominator(1001), (low, 16000))
        os.replace(tmp, p)
        updated[r.id] = with_file(r, p)
    if not updated:
        pytest.skip("the dataset has no fake video with audio")
    rewrite(ds, lambda r: updated.get(r.id))
    report = audit(ds)
    assert_only(report, "confounds")
    props = {p["property"]: p for p in report.check("confounds").details["properties"]}
    print("  audio:", {k: (v["auc"], v.get("real"), v.get("fake")) for k, v in props.items() if k.startswith("audio")})
    assert props["audio.rate"]["status"] == FAIL and props["audio.channels"]["status"] == FAIL


def test_uncovered_wedge_fails_artefacts_only(ds):
    """A black wedge along the bottom of every frame of one fake video (what the old reenactment warp left),
    planted where the target is textured (the fake video whose target clip is most textured, by check 8's own
    rule, under the wedge): check 8 names the sample and the share."""
    from synthfake.audit.artefacts import BLACK, TEXTURED_STD, _local_std

    root = Path(load_index(ds / "sources.json").root)

    def wedge_of(h: int, w: int) -> np.ndarray:
        return np.array([[0, h - 1], [w // 2, h - 1 - h // 6], [w - 1, h - 1]], np.int32)

    def textured_under_wedge(r: Record) -> float:
        target = next(s for s in r.sources if s.role == PAIR_ROLE[r.type])
        ref = media.read_frames(root / target.path, r.params.get("clip_start", 0), 1)[0]
        mask = np.zeros(ref.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, wedge_of(*ref.shape[:2]), 1)
        ok = (_local_std(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)) >= TEXTURED_STD) & (ref.max(2) >= BLACK)
        return float(ok[mask > 0].mean())

    fake = max((r for r in read_records(ds) if r.label == 1 and r.media.kind == "video"), key=textured_under_wedge)
    p = ds / fake.path
    frames = media.read_frames(p)
    wedge = wedge_of(*frames[0].shape[:2])
    for f in frames:
        cv2.fillConvexPoly(f, wedge, (0, 0, 0))
    audio = media.read_audio_of_video(p, 0, fake.media.duration) if fake.media.audio else None
    tmp = p.with_name(f"{p.stem}.tmp.mp4")
    media.write_video(tmp, frames, Fraction(fake.media.fps).limit_denominator(1001), audio)
    os.replace(tmp, p)
    rewrite(ds, lambda r: with_file(r, p) if r.id == fake.id else None)
    report = audit(ds)
    assert_only(report, "artefacts")
    art = report.check("artefacts")
    assert fake.id in art.summary and "uncovered" in art.summary
    m = art.details["per_record"][fake.id]
    assert m["uncovered"] > 0.05 and m["uncovered_frames"] == m["frames_sampled"]


def test_frozen_frames_fail_artefacts_only(ds):
    """One fake video whose frames are each shown twice (half the motion, same length)."""
    fake = next(r for r in read_records(ds) if r.label == 1 and r.media.kind == "video")
    p = ds / fake.path
    frames = media.read_frames(p)
    held = [frames[i - i % 2] for i in range(len(frames))]
    audio = media.read_audio_of_video(p, 0, fake.media.duration) if fake.media.audio else None
    tmp = p.with_name(f"{p.stem}.tmp.mp4")
    media.write_video(tmp, held, Fraction(fake.media.fps).limit_denominator(1001), audio)
    os.replace(tmp, p)
    rewrite(ds, lambda r: with_file(r, p) if r.id == fake.id else None)
    report = audit(ds)
    assert_only(report, "artefacts")
    # about half the pairs now repeat, less those already repeated in its source clip (29% on the shared media;
    # 0.17 left on the aligned_swap clip here, with held frames found by 16 px blocks)
    assert report.check("artefacts").details["per_record"][fake.id]["frozen"] > 0.1


def test_reals_of_one_source_fail_exact_duplicates(ds):
    """The audit FAILs when one source file stands for more than real_source_share of the reals."""
    reals = [r for r in read_records(ds) if r.label == 0]
    first = reals[0].sources[0]
    report = run_audit(ds, Settings(workers=0, show_progress=False, real_source_share=0.0,
                                    checks=("exact_duplicates",)))
    counts = Counter(r.sources[0].sha256 for r in reals)
    ex = report.check("exact_duplicates")
    if counts.most_common(1)[0][1] < exact_dupes.MIN_REALS_PER_SOURCE:
        assert ex.status != FAIL or "stands for" not in ex.summary
        rewrite(ds, lambda r: r.model_copy(update={"sources": [first]}) if r.label == 0 else None)
        ex = audit(ds, "exact_duplicates").check("exact_duplicates")
    print("  ", ex.summary)
    assert ex.status == FAIL and "stands for" in ex.summary
    assert ex.details["real_sources"]["top_count"] >= exact_dupes.MIN_REALS_PER_SOURCE


def test_twin_fakes_fail_unless_the_plan_repeated_their_sources(ds):
    """Two fakes of one split with one output (a faint change apart) are near-identical twins: a FAIL (2 of 8
    fakes); the same twins made from the same people in the same roles and clip (the very same files, or
    another file of each person: the plan repeating a draw once its split ran out) are a WARN that names them,
    not counted."""
    fakes = [r for r in read_records(ds) if r.label == 1 and r.media.kind == "image"]
    a = fakes[0]
    b = next(r for r in fakes[1:] if r.split == a.split)
    img = media.read_image(ds / a.path)
    Image.fromarray(np.clip(img.astype(np.int16) + 1, 0, 255).astype(np.uint8)).save(ds / b.path)
    other_files = [s.model_copy(update={"path": s.path + ".other", "sha256": "0" * 64}) for s in a.sources]
    other_person = [a.sources[0].model_copy(update={"identity": "someone_else"}), *a.sources[1:]]
    for clip_start, sources, status, counted in ((None, a.sources, WARN, "repeated_sources"),
                                                 (None, other_files, WARN, "repeated_sources"),
                                                 (None, other_person, FAIL, "near_identical_fakes"),
                                                 (1, a.sources, FAIL, "near_identical_fakes")):
        params = {**a.params, "clip_start": clip_start} if clip_start else a.params
        rewrite(ds, lambda r: with_file(r, ds / b.path, media=a.media, sources=sources, params=params)
                if r.id == b.id else None)
        near = audit(ds, "near_duplicates").check("near_duplicates")
        print("  ", near.summary)
        assert near.status == status and near.details["counts"][counted] == 1
        assert b.id in near.summary and a.id in near.summary


def test_same_output_twice_is_told_from_two_faces_on_one_target(data_dir):
    """The near-identical measure: one photo with a faint change all over (the same swap drawn with other blend
    parameters) is a twin; the same photo with one face-sized patch changed (another face pasted) is not, though
    both differ from it by under one grey level over the whole frame."""
    from synthfake.audit.near_dupes import IDENTICAL_GREY, worst_block_difference

    img = media.read_image(data_dir / "faces" / "photo_s1.jpg")
    faint = np.clip(img.astype(np.int16) + 2, 0, 255).astype(np.uint8)
    other = img.copy()
    h, w = img.shape[:2]
    patch = other[h // 3: h // 3 + h // 6, w // 3: w // 3 + w // 6]
    other[h // 3: h // 3 + h // 6, w // 3: w // 3 + w // 6] = np.clip(patch.astype(np.int16) + 30, 0, 255)
    whole = np.abs(other.astype(float) - img).mean()
    assert whole < 1.0  # the old frame-wide mean called these the same output
    print(f"\nworst block: faint {worst_block_difference(img, faint):.2f}, other face "
          f"{worst_block_difference(img, other):.2f} (whole-frame mean {whole:.2f})")
    assert worst_block_difference(img, faint) < IDENTICAL_GREY < worst_block_difference(img, other)
    assert worst_block_difference(img, img) == 0.0
