"""The whole default dataset (all four fake types, weights-free backends, plus reals) and `gen preview` of it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthfake import media
from synthfake.manifest import read_failures, read_records, resolve
from synthfake.shared_types import DEFAULT_BACKENDS
from synthfake.preview import group_records, waveform

from conftest import gen

EXPECTED = {"generation": 5, "face_swap": 4, "reenactment": 2, "lip_sync": 1, "real": 12}  # n=12, largest remainder
BACKEND = DEFAULT_BACKENDS  # the family stand-ins (latent_decode_sharp, aligned_swap, crop_reenact, crop_sync)


@pytest.fixture(scope="module")
def default_dataset(data_dir, dataset_dir) -> Path:
    out = dataset_dir("default")
    gen("run", "--n", 12, "--sources", data_dir, "--out", out, "--clip-seconds", 1, "--workers", 1, "--quiet")
    return out


def test_default_run_makes_every_type_exactly(default_dataset):
    records, failures = read_records(default_dataset), read_failures(default_dataset)
    counts = Counter(r.type for r in records)
    print(f"\ndefault run n=12: {dict(counts)}; failures {[f.reason for f in failures]}")
    for r in records:
        if r.type in ("reenactment", "lip_sync", "generation"):
            print(f"  {r.type:12s} {r.id} {r.split:5s} {r.media.kind} {r.media.frames} frame(s) "
                  f"manipulated {r.manipulated_frames} from {[s.path for s in r.sources]}")
    assert dict(counts) == EXPECTED and not failures
    for r in records:
        assert r.backend == BACKEND[r.type] and r.seed >= 0 and resolve(default_dataset, r).exists()
        if r.label == 1:
            assert r.manipulated_frames >= 0.9 * r.media.frames
    sync = next(r for r in records if r.type == "lip_sync")
    assert sync.media.audio and {"audio_offset_s", "max_open", "dub", "pipeline"} <= set(sync.params)


def test_preview_draws_the_dataset(default_dataset, tmp_path):
    sheet = tmp_path / "sheet.png"
    proc = gen("preview", default_dataset, "--out", sheet, "--html", "--per-row", 3)
    print("\n" + proc.stdout.strip())
    img = np.asarray(Image.open(sheet).convert("RGB"))
    groups = group_records(read_records(default_dataset), 3)
    assert [t for t, _ in groups] == list(EXPECTED)
    assert f"{sum(len(v) for v in groups.values())} samples in 5 rows" in " ".join(proc.stdout.split())
    # each row holds its samples' fake/real frames: the red (fake) and green (real) tile outlines are drawn
    red = ((img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)).sum()
    green = ((img[..., 1] > 150) & (img[..., 0] < 60) & (img[..., 2] < 90)).sum()
    print(f"sheet {img.shape[1]}x{img.shape[0]}: {red} red (fake frame) and {green} green (real frame) pixels")
    assert img.shape[0] > 5 * 160 and red > 0 and green > 0
    page = sheet.with_suffix(".html")
    links = re.findall(r'src="([^"#]+)', page.read_text())
    ids = [r.id for v in groups.values() for r in v]
    assert all(i in page.read_text() for i in ids)
    missing = [s for s in links if not (page.parent / s).exists()]
    print(f"html: {len(links)} media links, {len(missing)} missing")
    assert links and not missing


def test_preview_errors_are_one_line(tmp_path):
    (tmp_path / "D").mkdir()  # a folder that is no dataset
    proc = gen("preview", tmp_path / "D", "--out", tmp_path / "s.png", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "plan.json" in proc.stderr


def test_waveform_strip_draws_the_signal():
    t = np.linspace(0, 1, 16000, dtype=np.float32)
    loud_then_quiet = np.sin(2 * np.pi * 200 * t) * np.where(t < 0.5, 1.0, 0.1)
    img = waveform(loud_then_quiet[:, None], 64)
    ink = (img[..., 2] == 200).sum(0)
    assert ink[:30].mean() > 5 * ink[34:].mean() > 0
    assert media.kind_of("x.wav") == "audio"


def test_preview_with_sources_gone_draws_them_missing(default_dataset, tmp_path):
    sheet = tmp_path / "moved.png"
    gen("preview", default_dataset, "--out", sheet, "--per-row", 1, "--sources", tmp_path / "nowhere")
    img = np.asarray(Image.open(sheet).convert("RGB"))
    grey = (img == 200).all(-1).sum()
    print(f"\nsources gone: {grey} grey 'missing' tile pixels")
    assert grey > 4 * 100 * 100  # one missing tile per source of the 4 fake rows shown


def test_a_record_with_an_escaping_path_is_left_undrawn_and_said(default_dataset, tmp_path):
    """A line whose path leaves the dataset (or any line that is not a valid record) stopped the whole sheet
    (7 Dec sweep); it is said in one WARN line and not drawn, and a duplicated line is drawn once."""
    import json
    import shutil

    ds = tmp_path / "D"
    shutil.copytree(default_dataset, ds, ignore=shutil.ignore_patterns("cache"))
    part = sorted((ds / "manifest").glob("part-*.jsonl"))[0]
    lines = part.read_text().splitlines()
    bad = json.loads(lines[0])
    bad["path"] = "../../etc/passwd"
    part.write_text("\n".join([json.dumps(bad)] + lines[1:] + [lines[1]]) + "\n")
    proc = gen("preview", ds, "--out", tmp_path / "s.png", "--per-row", 1)
    assert f"WARN: manifest/{part.name}:1: not drawn: invalid record (path: Value error, path escapes" in proc.stderr
    assert (tmp_path / "s.png").stat().st_size > 0
    from synthfake.preview import load

    said = []
    assert len(load(ds, None, said.append)[3]) == len(read_records(default_dataset)) - 1 and len(said) == 1
