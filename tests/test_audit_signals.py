"""Audit check 9 (signal confounds) on planted cases, and the artefact check's held frames: synthetic media only,
seconds to run.

A JPEG grid on the reals but none on the fakes, and lip-sync audio band-limited, quieter, dual mono and shorter
than its paired reals', each FAIL; the same media on both sides PASS. A clip whose mouth alone moves is not
'frozen'; one whose frames are each shown twice is.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from synthfake import media
from synthfake.audit import signals
from synthfake.audit.artefacts import frozen_share
from synthfake.audit.base import FAIL, PASS, WARN, Settings
from synthfake.manifest import Record
from synthfake.shared_types import MediaMeta

RATE = 44100


def texture(seed: int, size: int = 192) -> np.ndarray:
    """A smooth random colour texture (no 8x8 structure of its own)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 6, size // 6, 3), dtype=np.uint8)
    img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(img.astype(np.float32) + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, q: int = 85) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def noise(seconds: float, band_hz: float, level: float, stereo: float, seed: int) -> np.ndarray:
    """Noise at RATE band-limited as a recording at 2 x band_hz resampled to RATE: (samples, 2), L and R
    differing by `stereo` of an independent noise."""
    from scipy.signal import resample_poly

    rng = np.random.default_rng(seed)
    low = int(2 * band_hz)
    n = int(seconds * low)
    mid = resample_poly(rng.normal(0, 1, n), RATE, low)
    side = resample_poly(rng.normal(0, 1, n), RATE, low) * stereo
    out = np.stack([mid + side, mid - side], 1)
    return (out / np.abs(out).max() * level).astype(np.float32)


def record(rid: str, typ: str, label: int, path: str, kind: str, **params) -> Record:
    meta = MediaMeta(kind=kind, width=64, height=64, frames=1 if kind == "image" else 25, fps=0 if kind == "image"
                     else 25.0, duration=0 if kind == "image" else 1.0, codec="png" if kind == "image" else "h264",
                     audio=kind == "video")
    return Record(id=rid, index=0, type=typ, label=label, backend="x", backend_version="1", params=params, seed=0,
                  sources=[], identities=[], path=path, sha256="0" * 64, bytes=1, media=meta, manipulated_frames=1,
                  split="train", rank=0, world_size=1, host="h", elapsed_s=0.0, created="now")


def audit_data(root: Path, records: list[Record]) -> SimpleNamespace:
    """What the check reads of an AuditData: records, where their media are, settings (no sources index)."""
    index = SimpleNamespace(get=lambda path: (_ for _ in ()).throw(KeyError(path)))
    return SimpleNamespace(records=records, settings=Settings(workers=0, show_progress=False), index=index,
                           media_path=lambda r: root / r.path)


def image_pairs(root: Path, fake_grid: bool, n: int = 6) -> list[Record]:
    """n face_swap fakes and their n paired reals: reals always decoded JPEGs, fakes JPEGs too when fake_grid,
    else the same pixels smoothed and written without a grid."""
    recs = []
    for k in range(n):
        base = texture(k)
        real = jpeg(base)
        fake = jpeg(cv2.GaussianBlur(base, (0, 0), 0.7)) if fake_grid else cv2.GaussianBlur(real, (0, 0), 0.7)
        for rid, img, label in ((f"f{k}", fake, 1), (f"r{k}", real, 0)):
            cv2.imwrite(str(root / f"{rid}.png"), img)
        recs += [record(f"f{k}", "face_swap", 1, f"f{k}.png", "image"),
                 record(f"r{k}", "real", 0, f"r{k}.png", "image", paired_with=f"f{k}")]
    return recs


def video_pairs(root: Path, shortcut: bool, n: int = 6) -> list[Record]:
    """n lip-sync fakes with audio and their n paired reals; with `shortcut`, the fakes' audio is the old
    backend's: band-limited to 7.6 kHz, 10 dB quieter, dual mono and 0.2 s shorter."""
    frames = [np.full((64, 64, 3), 90, np.uint8)] * 25
    recs = []
    for k in range(n):
        real = noise(1.0, 12000, 0.5, 0.3, k)
        fake = noise(0.8, 7600, 0.16, 0.0, 100 + k) if shortcut else noise(1.0, 12000, 0.5, 0.3, 100 + k)
        for rid, audio in ((f"f{k}", fake), (f"r{k}", real)):
            media.write_video(root / f"{rid}.mp4", frames, Fraction(25), (audio, RATE))
        recs += [record(f"f{k}", "lip_sync", 1, f"f{k}.mp4", "video"),
                 record(f"r{k}", "real", 0, f"r{k}.mp4", "video", paired_with=f"f{k}")]
    return recs


def rows(check) -> dict[tuple[str, str], dict]:
    return {(r["group"], r["property"]): r for r in check.details["rows"]}


def test_blockiness_sees_the_jpeg_grid():
    base = texture(0)
    everywhere = np.ones(base.shape[:2], bool)
    gray = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)  # noqa: E731
    plain, grid = signals.blockiness(gray(base), everywhere), signals.blockiness(gray(jpeg(base, 80)), everywhere)
    print(f"  blockiness: no JPEG {plain:.3f}, JPEG q80 {grid:.3f}")
    assert abs(plain - 1.0) < 0.05 and grid > 1.08


def test_audio_measures():
    wide = signals.audio_signals(noise(1.0, 12000, 0.5, 0.3, 0), RATE)
    narrow = signals.audio_signals(noise(1.0, 7600, 0.05, 0.0, 1), RATE)
    print("  full band:", wide, " speech band, quiet, dual mono:", narrow)
    assert wide["audio.rolloff_hz"] > 11000 and narrow["audio.rolloff_hz"] < 8500
    assert narrow["audio.stereo_width"] == 0 and 0.2 < wide["audio.stereo_width"] < 0.45
    assert wide["audio.loudness_dbfs"] - narrow["audio.loudness_dbfs"] > 15
    assert abs(wide["audio.duration_s"] - 1.0) < 1e-3


def test_a_jpeg_grid_on_reals_alone_fails(tmp_path):
    check = signals.check(audit_data(tmp_path, image_pairs(tmp_path, fake_grid=False)), None)
    print(" ", check.summary)
    assert check.status == FAIL
    r = rows(check)
    assert r[("all", "blockiness.outside")]["status"] == FAIL
    assert r[("face_swap", "blockiness.outside")]["status"] == FAIL  # the type against its own paired reals


def test_one_jpeg_history_on_both_sides_passes(tmp_path):
    check = signals.check(audit_data(tmp_path, image_pairs(tmp_path, fake_grid=True)), None)
    print(" ", check.summary)
    assert check.status == PASS


def test_lip_sync_audio_shortcuts_fail_against_their_paired_reals(tmp_path):
    check = signals.check(audit_data(tmp_path, video_pairs(tmp_path, shortcut=True)), None)
    print(" ", check.summary)
    r = rows(check)
    for prop in signals.AUDIO_PROPS:
        assert r[("lip_sync", prop)]["status"] == FAIL, (prop, r[("lip_sync", prop)])
    assert check.status == FAIL


def test_signal_confounds_that_measured_nothing_warn(tmp_path):
    """Nothing sampled (max_samples 0) or one class only measured: no AUC, so WARN saying why, never PASS."""
    recs = image_pairs(tmp_path, fake_grid=False, n=2)
    data = audit_data(tmp_path, recs)
    data.settings.max_samples = 0
    check = signals.check(data, None)
    assert (check.status, check.summary) == (WARN, "measured nothing: --max-samples 0 (4 images or videos, none "
                                                   "sampled)")
    check = signals.check(audit_data(tmp_path, [r for r in recs if r.label == 1]), None)
    assert check.status == WARN and check.details["measured"] == 2
    assert check.summary == ("measured nothing comparable: one class only (2 fakes, no reals) among 2 measured "
                             "records: no AUC")


def test_matched_lip_sync_audio_passes(tmp_path):
    check = signals.check(audit_data(tmp_path, video_pairs(tmp_path, shortcut=False)), None)
    print(" ", check.summary)
    assert check.status == PASS


def test_a_talking_photo_whose_mouth_alone_moves_is_not_frozen(tmp_path):
    """The reenactment the old measure called 'frozen 22.7 %': a still frame with a mouth-sized patch that changes
    every frame (a whole-frame mean difference under 0.25 grey levels), against the same clip with each frame
    shown twice."""
    still = cv2.cvtColor(texture(3, 512), cv2.COLOR_BGR2RGB)
    frames = []
    for t in range(24):
        f = still.copy()
        h = 2 + t % 7  # the mouth opens a little more each frame, then shuts
        f[340:340 + h, 236:268] = (f[340:340 + h, 236:268] * 0.6).astype(np.uint8)
        frames.append(f)
    path = tmp_path / "talk.mp4"
    media.write_video(path, frames, Fraction(25))
    decoded = media.read_frames(path)
    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.int16) for f in decoded]
    whole_frame = [float(np.abs(a - b).mean()) for a, b in zip(g, g[1:])]
    held = [decoded[i - i % 2] for i in range(len(decoded))]
    print(f"  mean frame difference {np.mean(whole_frame):.3f} (old 'identical' line 0.25); frozen share "
          f"{frozen_share(decoded):.3f}, each frame twice {frozen_share(held):.3f}")
    old = float(np.mean([d < 0.25 for d in whole_frame]))
    print(f"  the old measure (whole-frame mean under 0.25) called {100 * old:.0f}% of pairs held")
    assert old > 0.5  # the old check failed a clip at 5 %
    assert frozen_share(decoded) == 0.0
    assert frozen_share(held) > 0.4


def test_a_fake_quieter_than_its_real_on_every_pair_fails_pair_by_pair(tmp_path):
    """Clips from -30 to -1 dBFS, each fake 6 dB under its paired real, and silent pairs beside them: the AUC
    over all clips cannot tell (the levels between clips swamp 6 dB, and silent tracks tie at -180 dBFS), so
    the check passed (7 Dec sweep). Pair by pair the difference is the pipeline's: FAIL. Silence is compared
    as silence only."""
    frames = [np.full((64, 64, 3), 90, np.uint8)] * 25
    recs = []
    levels = [0.03, 0.06, 0.12, 0.25, 0.5, 0.9]
    for k, level in enumerate(levels + [0.0, 0.0, 0.0]):
        real = noise(1.0, 12000, level, 0.3, k) if level else np.zeros((RATE, 2), np.float32)
        fake = real * 0.5  # -6 dB, the same content
        for rid, audio in ((f"f{k}", fake), (f"r{k}", real)):
            media.write_video(tmp_path / f"{rid}.mp4", frames, Fraction(25), (audio, RATE))
        recs += [record(f"f{k}", "lip_sync", 1, f"f{k}.mp4", "video"),
                 record(f"r{k}", "real", 0, f"r{k}.mp4", "video", paired_with=f"f{k}")]
    check = signals.check(audit_data(tmp_path, recs), None)
    print(" ", check.summary)
    r = rows(check)
    assert r[("lip_sync", "audio.loudness_dbfs")]["status"] == PASS  # across clips: not telling
    loud = r[("lip_sync", "audio.loudness_dbfs (paired)")]
    assert loud["status"] == FAIL and loud["pairs"] == 6 and abs(loud["median"] + 6.02) < 0.1, loud
    assert check.status == FAIL and "6 of 6 fakes differ from their paired real by more than 1" in check.summary
    silent = {k: v for k, v in check.details["per_record"]["r6"].items() if k.startswith("audio.")}
    assert set(silent) == {"audio.silent", "audio.duration_s"} and silent["audio.silent"] == 1, silent
    assert r[("lip_sync", "audio.silent")]["status"] == PASS


@pytest.mark.parametrize("plant,row", [("red", ("face_swap", "outside.red (paired)")),
                                       ("blur", ("face_swap", "outside.detail (paired)")),
                                       ("smaller", ("all", "image.width_px (paired)"))])
def test_a_face_swap_that_changes_its_frame_outside_the_face_fails_pair_by_pair(tmp_path, plant, row):
    """Fakes whose whole frame got a colour cast (+5 red), a blur (sigma 0.8) or a 10 % downscale, on photos of
    every level: no AUC over all images could tell (7 Dec sweep; the size read from records that were not
    rewritten). Outside the face a face swap's frame is its real's, so each FAILs pair by pair; the same pixels
    on both sides PASS."""
    recs = []
    for k in range(6):
        real = jpeg(cv2.convertScaleAbs(texture(k, 256), alpha=0.4 + 0.25 * k))  # dim to bright photos
        fake = {"red": lambda im: cv2.add(im, (0, 0, 5, 0)), "blur": lambda im: cv2.GaussianBlur(im, (0, 0), 0.8),
                "smaller": lambda im: cv2.resize(im, (230, 230), interpolation=cv2.INTER_AREA),
                "none": lambda im: im}[plant](real)
        for rid, img in ((f"f{k}", fake), (f"r{k}", real)):
            cv2.imwrite(str(tmp_path / f"{rid}.png"), img)
        recs += [record(f"f{k}", "face_swap", 1, f"f{k}.png", "image"),
                 record(f"r{k}", "real", 0, f"r{k}.png", "image", paired_with=f"f{k}")]
    check = signals.check(audit_data(tmp_path, recs), None)
    print(" ", check.summary)
    assert rows(check)[row]["status"] == FAIL and check.status == FAIL
    for f in tmp_path.glob("f*.png"):  # the same pixels on both sides
        f.write_bytes((tmp_path / f"r{f.name[1:]}").read_bytes())
    assert signals.check(audit_data(tmp_path, recs), None).status == PASS


@pytest.mark.parametrize("plant", ["red", "blur"])
def test_a_lip_sync_video_that_changes_its_frame_outside_the_face_fails_pair_by_pair(tmp_path, plant):
    """Videos too (only photos were decoded for this before 7 Dec): lip-sync fakes whose every frame got +5 red or a
    sigma-0.8 blur FAIL pair by pair; the same frames on both sides PASS."""
    change = {"red": lambda im: cv2.add(im, (5, 0, 0, 0)), "blur": lambda im: cv2.GaussianBlur(im, (0, 0), 0.8)}
    recs = []
    for k in range(4):
        base = cv2.convertScaleAbs(texture(k, 128), alpha=0.6 + 0.3 * k)
        real = [np.roll(base, t, 1) for t in range(25)]
        for rid, frames in ((f"f{k}", [change[plant](f) for f in real]), (f"r{k}", real)):
            media.write_video(tmp_path / f"{rid}.mp4", frames, Fraction(25), (noise(1.0, 12000, 0.5, 0.3, k), RATE))
        recs += [record(f"f{k}", "lip_sync", 1, f"f{k}.mp4", "video"),
                 record(f"r{k}", "real", 0, f"r{k}.mp4", "video", paired_with=f"f{k}")]
    check = signals.check(audit_data(tmp_path, recs), None)
    print(" ", check.summary, [check.details["per_record"][r.id].get("outside.detail") for r in recs])
    prop = "outside.red (paired)" if plant == "red" else "outside.detail (paired)"
    row = rows(check)[("lip_sync", prop)]
    assert row["status"] == FAIL and row["pairs"] == 4, row
    for k in range(4):
        (tmp_path / f"f{k}.mp4").write_bytes((tmp_path / f"r{k}.mp4").read_bytes())
    assert signals.check(audit_data(tmp_path, recs), None).status == PASS


def test_a_fake_video_is_masked_by_the_faces_of_its_paired_real(tmp_path, monkeypatch):
    """Both sides of a pair leave out the same pixels: the face is looked for on the real's frames (found on each
    side's own, it moved with the mouth by a few pixels, 1-2 levels over the rest)."""
    for rid, level in (("f0", 60), ("r0", 200)):
        media.write_video(tmp_path / f"{rid}.mp4", [np.full((64, 64, 3), level, np.uint8)] * 25, Fraction(25))
    seen = []
    monkeypatch.setattr(signals.faces, "detect", lambda rgb: seen.append(int(rgb.mean())))
    signals.signal_task((str(tmp_path / "f0.mp4"), "video", False, None, 25, str(tmp_path / "r0.mp4")))
    assert len(seen) == signals.VIDEO_FRAMES and all(abs(v - 200) < 3 for v in seen), seen
    seen.clear()
    signals.signal_task((str(tmp_path / "f0.mp4"), "video", False, None, 25, None))  # no paired real: its own
    assert all(abs(v - 60) < 3 for v in seen), seen


def test_a_lip_sync_video_at_another_size_or_rate_than_its_real_fails_pair_by_pair(tmp_path):
    """Check 6 reads sizes and rates from the records, which a tool that rewrites media and hashes (not records)
    leaves stale: fakes re-encoded at 24 fps or 2 px narrower FAIL pair by pair, read from the files."""
    recs = []
    for k in range(3):
        frames = [np.roll(cv2.convertScaleAbs(texture(k, 64), alpha=0.8), t, 1) for t in range(25)]
        media.write_video(tmp_path / f"r{k}.mp4", frames, Fraction(25))
        media.write_video(tmp_path / f"f{k}.mp4", [f[:, 2:] for f in frames], Fraction(24))
        recs += [record(f"f{k}", "lip_sync", 1, f"f{k}.mp4", "video"),
                 record(f"r{k}", "real", 0, f"r{k}.mp4", "video", paired_with=f"f{k}")]
    check = signals.check(audit_data(tmp_path, recs), None)
    print(" ", check.summary)
    r = rows(check)
    assert r[("lip_sync", "video.fps (paired)")]["status"] == FAIL
    assert r[("lip_sync", "video.width_px (paired)")]["status"] == FAIL
    assert r[("lip_sync", "video.height_px (paired)")]["status"] == PASS
