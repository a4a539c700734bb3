"""mouth_sync on real media: the mouth follows the new speech, the audio is muxed at the video's length,
and everything outside the lower face is left as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from synthfake import faces, media
from synthfake.generators.common import warp
from synthfake import landmarks as lmk
from synthfake.generators import Context, mouth_sync
from synthfake.sample_spec import SampleSpec
from synthfake.source_files import Source, Sources
from synthfake.sources import scan

TARGET, AUDIO = "videos/talk_d20.mp4", "audio/RD_Radio31_000.wav"
CLIP = (20, 125)  # start, frames: 5 s at 25 fps


def sources_for(data_dir: Path, root: Path, files: list[str], roles: list[str]) -> list[Source]:
    """Copy files under root, index them as `gen run` does, and hand them out in their roles."""
    for f in files:
        shutil.copy(data_dir / f, root / Path(f).name)
    index = scan(root)
    return Sources(Source(index.get(Path(f).name), root / Path(f).name, r, root / "cache")
                   for f, r in zip(files, roles))


def run(srcs: list[Source], root: Path, name: str, seed: int, params: dict):
    spec = SampleSpec(0, name, "lip_sync", "mouth_sync", "train", seed, [(s.item, s.role) for s in srcs], params)
    return mouth_sync.generate(spec, Sources(srcs), root / name, Context(root / "cache"))


def stream_seconds(path: Path) -> tuple[float, float]:
    """(video, audio) stream durations as the container declares them."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return float(v.duration * v.time_base), float(a.duration * a.time_base)


def decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return np.concatenate([f.to_ndarray() for f in c.decode(a)], 1).T, a.codec_context.sample_rate


def lower_face(lm: np.ndarray, shape) -> np.ndarray:
    """The lower face as this test defines it: jaw, nose bridge, the jaw moved 0.7 face units down, grown by 0.3."""
    iod = float(lmk.interocular(lm))
    pts = np.vstack([lm[1:16], lm[[29]], lm[1:16] - lmk.up_vector(lm) * 0.7 * iod])
    r = int(0.3 * iod)
    return cv2.dilate(warp.hull_mask(pts, shape[:2]), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))


@pytest.fixture(scope="module")
def synced(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("lipsync")
    srcs = sources_for(data_dir, root, [TARGET, AUDIO], ["target", "audio"])
    out = run(srcs, root, "trim", 5, {"clip_start": CLIP[0], "clip_frames": CLIP[1]})
    return srcs, root, out


def test_mouth_follows_audio(synced):
    (tgt, aud), _, out = synced
    frames = media.read_frames(out.path)
    mouth = np.array([lmk.mouth_opening(f.landmarks) if f else np.nan for f in faces.track(frames)])
    sound, rate = decoded_audio(out.path)  # what a viewer hears, taken from the output file itself
    env = mouth_sync.envelope(sound.mean(1), rate, tgt.item.fps, len(frames), tuple(out.params["band_hz"]))
    before = lmk.mouth_opening(tgt.track()[CLIP[0]:CLIP[0] + CLIP[1]])
    r, r_before = lmk.pearson(mouth, env), lmk.pearson(before, env)
    print(f"\nmouth_sync {TARGET} [{CLIP[0]}:+{CLIP[1]}] to {AUDIO} at {out.params['audio_offset_s']}s: "
          f"mouth-opening vs voice-band envelope r = {r:.3f} (the untouched clip: r = {r_before:.3f}); output opening "
          f"{np.nanmin(mouth):.3f}..{np.nanmax(mouth):.3f}; manipulated {out.manipulated_frames}/{out.frames}")
    assert out.frames == CLIP[1] and out.manipulated_frames >= 0.9 * out.frames
    assert r >= 0.6


def test_audio_stream_matches_video(synced):
    (tgt, aud), _, out = synced
    v, a = stream_seconds(out.path)
    frame = 1 / tgt.item.fps
    print(f"\nmouth_sync trim_audio: video {v:.3f}s, audio stream {a:.3f}s (one frame {frame:.3f}s), "
          f"audio segment {out.params['audio_offset_s']}s + {out.params['audio_seconds']}s of {aud.item.duration:.1f}s")
    assert abs(a - v) <= frame + 1e-6
    assert abs(a - out.params["audio_seconds"]) <= frame + 1e-6
    assert 0 <= out.params["audio_offset_s"] <= aud.item.duration - out.params["audio_seconds"]


def test_upper_face_untouched(synced):
    (tgt, _), _, out = synced
    before = media.read_frames(tgt.path, CLIP[0], CLIP[1])
    after = media.read_frames(out.path)
    track = tgt.track()[CLIP[0]:CLIP[0] + CLIP[1]]
    outside, inside = [], []
    for b, a, lm in zip(before, after, track):
        region = lower_face(lm, b.shape)
        h, w = a.shape[:2]
        outside.append(warp.psnr(a, b[:h, :w], 255 - region[:h, :w]))
        inside.append(warp.psnr(a, b[:h, :w], region[:h, :w]))
    print(f"\nmouth_sync PSNR to the input outside the lower face: min {min(outside):.1f} dB, median "
          f"{np.median(outside):.1f} dB; inside it: median {np.median(inside):.1f} dB")
    assert min(outside) >= 30
    assert np.median(inside) < np.median(outside)


def test_loop_video_to_audio_length(synced, tmp_path):
    (tgt, aud), root, _ = synced
    out = run([tgt, aud], root, "loop", 9, {"clip_start": 0, "clip_frames": 25, "length_mode": "loop_video"})
    v, a = stream_seconds(out.path)
    frame = 1 / tgt.item.fps
    print(f"\nmouth_sync loop_video: 25-frame clip played to {out.frames} frames; video {v:.3f}s, audio stream "
          f"{a:.3f}s, audio file {aud.item.duration:.3f}s")
    assert out.frames == int(aud.item.duration * tgt.item.fps)
    assert abs(a - aud.item.duration) <= frame + 1e-6 and abs(v - a) <= frame + 1e-6


def test_a_lip_sync_pair_sounds_alike_but_for_the_voice(data_dir, dataset_dir):
    """The fake's speech takes its target clip's level, width and rate, the pair is band-limited alike and both
    streams last alike (1.1 fed the encoder 1024 samples fewer: every fake 23 ms shorter than its real)."""
    from conftest import fake_real_pairs, gen
    from synthfake.audit.signals import audio_signals
    from synthfake.manifest import read_records, resolve

    out = dataset_dir("lipsync_pairs")
    gen("run", "--type", "lip_sync", "--backend", "lip_sync=mouth_sync", "--n", 4, "--reals", 4,
        "--clip-seconds", 1, "--splits", "train=1,val=0,test=0",
        "--sources", data_dir, "--out", out, "--workers", 1, "--quiet")
    recs = read_records(out)
    pairs = fake_real_pairs(recs)
    assert pairs
    assert any(not real.media.audio for _, real in pairs)  # talk_d0 has no audio track
    for fake, real in pairs:
        assert fake.media.audio == real.media.audio, fake.params["dub"]  # no audio track: a silent fake
        if not real.media.audio:
            continue
        a, b = (audio_signals(*media.read_audio_of_video(resolve(out, r), 0, 1e9)) for r in (fake, real))
        print(f"  {fake.id}: fake {a} | real {b}")
        assert fake.params["finish"] == real.params["finish"] and fake.params["dub"]["samples"] > 0
        assert abs(a["audio.duration_s"] - b["audio.duration_s"]) < 1e-3
        assert a.keys() == b.keys()  # a silent target track gives a silent dub, measured as silence only
        if b.get("audio.loudness_dbfs", -200) > -60:  # nothing to compare in silence
            assert abs(a["audio.loudness_dbfs"] - b["audio.loudness_dbfs"]) < 3.0
