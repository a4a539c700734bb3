"""wav2lip through `gen run` with a tiny ONNX model of FaceFusion's wav2lip_gan_96 export; Wav2Lip's mels."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_models
from conftest import gen
from model_checks import audit_integrity, check_records, model_env, sources

from synthfake.writer import AUDIO_RATE
from synthfake import faces, media
from synthfake.generators import wav2lip
from synthfake.manifest import resolve


@pytest.fixture(scope="module")
def sync_run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wav2lip")
    w = tmp / "weights"
    files = {"wav2lip_gan_96.onnx": tiny_models.wav2lip(w / "wav2lip_gan_96.onnx")}
    src = sources(tmp, ["talk_d0.mp4", "RD_Radio31_000.wav"])
    ds = tmp / "D"
    gen("run", "--type", "lip_sync", "--backend", "lip_sync=wav2lip", "--weights-dir", w, "--n", 2, "--reals", 0,
        "--clip-seconds", 0.5, "--splits", "train=1,val=0,test=0", "--sources", src, "--out", ds, "--quiet",
        env=model_env(tmp / "home"))
    return tmp, ds, files, src


def test_records_carry_the_speech_and_every_frame_synced(sync_run):
    tmp, ds, files, _ = sync_run
    records = check_records(ds, files)
    assert len(records) == 2
    for r in records:
        assert {s.role: s.path for s in r.sources} == {"target": "talk_d0.mp4", "audio": "RD_Radio31_000.wav"}
        assert r.media.kind == "video" and r.media.audio  # talk_d0 has no audio: the track is the speech
        assert r.media.frames == r.params["clip_frames"] == r.manipulated_frames == 12
        assert 0 <= r.params["audio_start"] <= 8.0 - 0.48
        audio, rate = media.read_audio_of_video(resolve(ds, r), 0, 10)
        assert rate == AUDIO_RATE and 0.45 < len(audio) / rate < 0.65  # the clip's 0.48 s plus AAC frame padding
    audit_integrity(ds, tmp)


def test_only_the_lower_face_changes(sync_run):
    tmp, ds, _, src = sync_run
    r = check_records(ds, {"wav2lip_gan_96.onnx": tmp / "weights" / "wav2lip_gan_96.onnx"})[0]
    start = r.params["clip_start"]
    out = media.read_frames(resolve(ds, r), 6, 1)[0].astype(int)
    tgt = media.read_frames(src / "talk_d0.mp4", start + 6, 1)[0].astype(int)
    lm = faces.detect(tgt.astype(np.uint8)).landmarks
    (mx, my), (ex, ey) = lm[62].astype(int), lm[27].astype(int)  # inner upper lip, top of the nose bridge
    assert np.abs(out[my - 3:my + 3, mx - 3:mx + 3] - tgt[my - 3:my + 3, mx - 3:mx + 3]).mean() > 15
    assert np.abs(out[ey - 3:ey + 3, ex - 3:ex + 3] - tgt[ey - 3:ey + 3, ex - 3:ex + 3]).mean() < 6


def test_mel_spectrogram_follows_wav2lip_hparams():
    t = np.arange(16000) / 16000.0
    mel = wav2lip.melspectrogram((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    assert mel.shape == (80, 81)  # 80 mels; 1 + 16000 // 200 centred frames
    assert mel.min() >= -4.0 and mel.max() <= 4.0 and mel.max() > 0
    assert np.all(wav2lip.melspectrogram(np.zeros(16000, np.float32)) == -4.0)  # silence sits at the floor
    band = np.argmax(mel[:, 40])
    assert 10 <= band <= 25  # 440 Hz on the 55-7600 Hz mel scale


def test_mel_windows_advance_80_over_fps_steps_per_frame():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100)
    assert wav2lip.mel_window(mel, 0, 25.0).shape == (80, 16)
    np.testing.assert_array_equal(wav2lip.mel_window(mel, 10, 25.0), mel[:, 32:48])
    np.testing.assert_array_equal(wav2lip.mel_window(mel, 40, 25.0), mel[:, 84:])  # past the end: the last 16
