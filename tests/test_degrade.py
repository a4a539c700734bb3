"""Degradations on real media: each operation does what it claims (measured), draws are deterministic and
label-blind, a record's chain replays to the identical file, and audit's confound check tells a
label-blind chain from a label-dependent one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthfake import finish, media
from synthfake.generators.common import warp
from synthfake import generators as registry
from synthfake.audit import run_audit
from synthfake.audit.base import FAIL, PASS, Settings
from synthfake.audit.headers import jpeg_quality
from synthfake.dataset import Dataset
from synthfake.degrade import PRESETS, apply_chain, draw_chain, parse_chain
from synthfake.errors import SynthfakeError
from synthfake.files import sha256_file
from synthfake.manifest import Record, append_line, read_records
from synthfake.plan import SampleTable
from synthfake.source_files import Sources

from conftest import gen


def _one(op: str, **params) -> list[dict]:
    return [{"op": op, "params": params}]


@pytest.fixture(scope="module")
def photo(data_dir) -> Path:
    return data_dir / "faces" / "photo_s42.jpg"


@pytest.fixture(scope="module")
def clip(data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    src = data_dir / "videos" / "talk_d12.mp4"
    fps = media.video_fps(src)
    media.write_video(out, media.read_frames(src, 0, 25), fps, media.read_audio_of_video(src, 0, 1.0))
    return out


def test_jpeg_quality_is_what_was_asked(photo, tmp_path):
    for q in (55, 75, 92):
        out = apply_chain(photo, tmp_path / f"q{q}", _one("jpeg", quality=q))
        est = jpeg_quality(out)
        print(f"\njpeg quality {q}: estimated {est}, "
              f"PSNR {warp.psnr(media.read_image(photo), media.read_image(out)):.1f} dB")
        assert out.suffix == ".jpg" and abs(est - q) <= 2


def test_resize_blur_noise_color_measured(photo, tmp_path):
    src = media.read_image(photo)
    h, w = src.shape[:2]
    small = media.read_image(apply_chain(photo, tmp_path / "r", _one("resize", factor=0.5, interp="area")))
    assert small.shape[:2] == (round(h * 0.5 / 2) * 2, round(w * 0.5 / 2) * 2)
    blurred = media.read_image(apply_chain(photo, tmp_path / "b", _one("blur", sigma=1.0)))
    lap = lambda x: cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    p_blur = warp.psnr(src, blurred)
    noisy = media.read_image(apply_chain(photo, tmp_path / "n", _one("noise", sigma=3.0, seed=7)))
    p_noise = warp.psnr(src, noisy)
    brighter = media.read_image(apply_chain(photo, tmp_path / "c", _one(
        "color", brightness=10, contrast=1.0, saturation=1.0, gamma=1.0)))
    shift = float(brighter.astype(float).mean() - src.astype(float).mean())
    print(f"\nblur sigma 1: PSNR {p_blur:.1f} dB, sharpness {lap(src):.0f} -> {lap(blurred):.0f}; "
          f"noise sigma 3: PSNR {p_noise:.1f} dB (theory {20 * np.log10(255 / 3):.1f}); brightness +10: {shift:+.1f}")
    assert 28 < p_blur < 45 and lap(blurred) < 0.5 * lap(src)
    assert abs(p_noise - 20 * np.log10(255 / 3)) < 1.0
    assert 8 < shift <= 10.5


def test_fps_and_h264_on_video(clip, tmp_path):
    info = media.probe(clip)
    up = apply_chain(clip, tmp_path / "f30", _one("fps", fps=30))
    fi = media.probe(up)
    print(f"\nfps 25 -> 30: {info.frames} -> {fi.frames} frames, {info.duration:.2f} -> {fi.duration:.2f} s")
    assert fi.fps == 30 and fi.frames == round(info.frames * 30 / 25) and abs(fi.duration - info.duration) < 0.05
    assert fi.audio
    hi = apply_chain(clip, tmp_path / "c18", _one("h264", crf=18, preset="veryfast"))
    lo = apply_chain(clip, tmp_path / "c36", _one("h264", crf=36, preset="veryfast"))
    ref = media.read_frames(clip)
    p_hi = np.mean([warp.psnr(a, b) for a, b in zip(ref, media.read_frames(hi))])
    p_lo = np.mean([warp.psnr(a, b) for a, b in zip(ref, media.read_frames(lo))])
    print(f"h264 crf 18: {hi.stat().st_size} B, {p_hi:.1f} dB; crf 36: {lo.stat().st_size} B, {p_lo:.1f} dB")
    assert lo.stat().st_size < 0.5 * hi.stat().st_size and p_lo < p_hi - 4


def test_a_key_written_twice_in_a_step_is_refused():
    """`jpeg:quality=80,quality=90` kept the last value without a word."""
    from synthfake.degrade import parse_chain
    from synthfake.errors import SynthfakeError

    with pytest.raises(SynthfakeError, match="jpeg: quality given twice"):
        parse_chain("jpeg:quality=80,quality=90")
    with pytest.raises(SynthfakeError, match="blur: p given twice"):
        parse_chain("blur:p=.5,sigma=1,p=.2")
    assert parse_chain("jpeg:p=.5,quality=60-90") == [{"op": "jpeg", "p": 0.5, "quality": [60.0, 90.0]}]


def test_draws_are_deterministic_and_kind_aware():
    chain = PRESETS["messenger"]
    a = draw_chain(chain, [0, 300, 5], "video")
    assert a == draw_chain(chain, [0, 300, 5], "video")
    assert a != draw_chain(chain, [0, 300, 6], "video") or a != draw_chain(chain, [0, 300, 7], "video")
    assert all(s["op"] != "jpeg" for s in a)
    assert all(s["op"] not in ("fps", "h264") for s in draw_chain(chain, [0, 300, 5], "image"))
    assert parse_chain("jpeg:p=0.5,quality=60-90;resize:factor=0.5-1,interp=area|cubic") == [
        {"op": "jpeg", "p": 0.5, "quality": [60.0, 90.0]},
        {"op": "resize", "p": 1.0, "factor": [0.5, 1.0], "interp": ["area", "cubic"]}]
    with pytest.raises(SynthfakeError, match="unknown operation"):
        parse_chain("sharpen:amount=2")


@pytest.fixture(scope="module")
def degraded(data_dir, dataset_dir) -> Path:
    out = dataset_dir("deg")
    gen("run", "--type", "face_swap", "--n", 16, "--reals", 16, "--clip-seconds", 0.5, "--degrade", "social",
        "--sources", data_dir, "--out", out, "--workers", 1, "--quiet")
    return out


def test_record_replays_to_the_identical_file(degraded, tmp_path):
    opened = Dataset.open(degraded)
    plan, index = opened.plan, opened.index
    layout = SampleTable(plan, index)
    ctx = registry.Context(cache_dir=degraded / "cache")
    recs = [r for r in read_records(degraded) if r.degradations]
    chosen = [next(r for r in recs if r.media.kind == "video"), next(r for r in recs if r.media.kind == "image")]
    for r in chosen:
        spec = layout.spec(r.index)
        sources = Sources.of(spec.sources, Path(index.root), ctx.cache_dir, layout.glasses)  # as the runner does
        pristine = registry.get(spec.backend).generate(spec, sources, tmp_path / f"p{r.index}", ctx)
        finish.apply(opened, spec, pristine)  # the pair's finish (a JPEG encode for landmark_swap 2.5), as the writer
        assert pristine.params.get("finish") == r.params.get("finish")
        again = apply_chain(pristine.path, tmp_path / f"d{r.index}", r.degradations)
        assert sha256_file(again) == r.sha256, r.path
    print(f"\nreplayed {[r.path for r in chosen]} to identical sha256")


def test_pairs_share_their_draw(degraded):
    recs = {r.id: r for r in read_records(degraded)}
    # a redrawn fake (attempt > 0) has other sources than the target its real was paired with: no longer a pair
    pairs = [(r, recs[r.params["paired_with"]]) for r in recs.values()
             if "paired_with" in r.params and recs[r.params["paired_with"]].attempt == 0]
    assert pairs and all(a.degradations == b.degradations for a, b in pairs)


def test_audit_confounds_blind_chain_passes_label_dependent_fails(degraded, tmp_path):
    settings = Settings(workers=0, max_samples=4, checks=("confounds",), show_progress=False)
    clean = run_audit(degraded, settings).check("confounds")
    print(f"\nlabel-blind 'social' chain: {clean.status}: {clean.summary}")
    assert clean.status == PASS
    bad = tmp_path / "bad"
    shutil.copytree(degraded, bad)
    lines = []
    for r in read_records(bad):
        if r.type == "real":  # a chain that depends on the label: reals get an extra downscale
            p = bad / r.path
            new = apply_chain(p, p.with_name(p.stem + "_x"), _one("resize", factor=0.5, interp="area"))
            info = media.probe(new)
            p.unlink()
            new.rename(p)
            r = r.model_copy(update={"sha256": sha256_file(p), "bytes": p.stat().st_size, "media": r.media.model_copy(
                update={"width": info.width, "height": info.height})})
        lines.append(r)
    for f in (bad / "manifest").glob("*.jsonl"):
        f.unlink()
    with open(bad / "manifest" / "part-00000-of-00001.jsonl", "w") as fh:
        for r in lines:
            append_line(fh, Record.model_validate(r.model_dump()))
    dirty = run_audit(bad, settings).check("confounds")
    print(f"label-dependent chain: {dirty.status}: {dirty.summary}")
    assert dirty.status == FAIL and "width" in dirty.summary


def test_preview_shows_before_and_after(degraded, tmp_path):
    from synthfake.preview import preview

    rows = preview(degraded, tmp_path / "sheet.png")
    cells = [c for cells in rows.values() for c in cells if c.record.degradations]
    assert cells and all(c.tiles[1].label == "before" and "after" in c.tiles[0].label for c in cells)
    assert all(c.tiles[0].image.shape != c.tiles[1].image.shape or (c.tiles[0].image != c.tiles[1].image).any()
               for c in cells)


def test_a_chain_missing_a_setting_or_with_choices_for_a_range_is_one_line():
    """A bare `jpeg` passed the checks and then failed every image sample (KeyError 'quality'); `quality=10|90` was
    drawn as the range 10-90. Both are refused before anything runs, naming what to give."""
    from synthfake.degrade import parse_chain
    from synthfake.errors import SynthfakeError

    for text, want in (("jpeg", "jpeg needs quality (e.g. 'jpeg:quality=60-90')"),
                       ("resize:factor=0.5-1", "resize needs interp"),
                       ("jpeg:quality=10|90", "choices a|b are for fps, interp, preset; give quality a range"),
                       ("jpeg:qualty=50", "unknown setting(s) ['qualty']"),
                       ("jpeg:p=2,quality=50-60", "p=2.0 must be a probability from 0 to 1")):
        with pytest.raises(SynthfakeError, match=re.escape(want)):
            parse_chain(text)
    assert parse_chain("h264") == [{"op": "h264", "p": 1.0}]  # the writer's CRF and preset
    assert parse_chain("fps:fps=25|30")[0]["fps"] == [25.0, 30.0]


def test_numbers_in_scientific_notation_and_a_padded_preset_name_are_read():
    """sigma=1e-3 read as "['1e-3'] is not a number", sigma=1e9 the same (not "outside 0..50"), and ' social ' as
    "unknown operation 'social'" beside its own name in the presets listed (7 Dec sweep)."""
    from synthfake.degrade import PRESETS, parse_chain
    from synthfake.errors import SynthfakeError

    assert parse_chain("noise:sigma=1e-3") == [{"op": "noise", "p": 1.0, "sigma": 0.001}]
    with pytest.raises(SynthfakeError, match=r"sigma: 1000000000.0 is outside 0..50"):
        parse_chain("noise:sigma=1e9")
    assert parse_chain(" social ") == PRESETS["social"]
