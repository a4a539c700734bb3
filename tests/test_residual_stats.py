"""The residual-statistics detector (detector/residual_stats.py): what its features measure on a real face crop,
and that it saves, loads and exports like the other model types."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from synthfake.detector.meta import DetectorMeta  # noqa: E402
from synthfake.detector.model import load_base, load_detector, save_detector  # noqa: E402
from synthfake.detector.residual_stats import N_FEATURES, REGIONS  # noqa: E402
from synthfake.detector.score import to_pixels  # noqa: E402

SIZE = 224


@pytest.fixture(scope="module")
def crop(data_dir):
    from synthfake.detector.crops import CropSettings, file_crops

    fc = file_crops(data_dir / "faces" / "photo_s42.jpg", CropSettings(frames=1, size=SIZE))
    assert len(fc.crops) == 1, fc.reason
    return fc.crops[0]


def feats(model, crops) -> np.ndarray:
    x = torch.from_numpy(to_pixels(list(crops), [False] * len(crops), [0.5] * 3, [0.5] * 3))
    with torch.no_grad():
        return model.features(x).numpy()


def index(filt: int, truncated: bool, region: str) -> int:
    """Column of a residual feature: filters (KB, KV, first difference) x (plain, truncated) x regions."""
    return (filt * 2 + int(truncated)) * len(REGIONS) + REGIONS.index(region)


def test_a_face_resampled_at_a_lower_size_loses_residual_in_the_face_only(crop):
    """What a swap at 128 px pasted back does to the crop: the core's residual falls, the ring's stays."""
    import cv2

    model, _ = load_base(None, SIZE, arch={"type": "residual_stats"})
    fake = crop.copy()
    a, b = 48, SIZE - 48
    face = fake[a:b, a:b]
    small = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    fake[a:b, a:b] = cv2.resize(small, face.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    f = feats(model, [crop, fake])
    assert f.shape == (2, N_FEATURES) and np.isfinite(f).all()
    for filt in range(3):
        core, ring = index(filt, False, "core"), index(filt, False, "ring")
        assert f[1, core] < f[0, core] - 0.1, (filt, f[:, core])  # over 10 % less residual in the face
        assert abs(f[1, ring] - f[0, ring]) < 0.02  # the margin ring untouched
    noisy = np.clip(crop.astype(np.int16) + np.random.default_rng(0).integers(-6, 7, crop.shape), 0, 255)
    g = feats(model, [noisy.astype(np.uint8)])
    assert (g[0, :6 * len(REGIONS)] > f[0, :6 * len(REGIONS)]).all()  # sensor-like noise raises every residual


def test_saves_loads_and_exports_with_the_same_probabilities(crop, tmp_path):
    from synthfake.detector.onnx_export import export_onnx

    model, meta = load_base(None, SIZE, arch={"type": "residual_stats", "hidden": 8})
    model.train()
    x = torch.from_numpy(to_pixels([crop, crop[:, ::-1]] * 4, [False] * 8, [0.5] * 3, [0.5] * 3))
    x = x + 0.02 * torch.randn_like(x)
    model(x, labels=torch.tensor([0, 1] * 4)).loss.backward()  # one batch through BatchNorm: running stats move
    model.eval()
    meta = DetectorMeta(image_size=SIZE)
    save_detector(model, meta, tmp_path)
    loaded, _ = load_detector(tmp_path)
    with torch.no_grad():
        ref, got = model(x).logits, loaded(x).logits
    assert torch.allclose(ref, got, atol=1e-6) and torch.isfinite(got).all()  # nothing left empty by loading
    assert export_onnx(loaded, meta, tmp_path, np.stack([crop])) <= 1e-5
    assert (tmp_path / "model.onnx").is_file()


def test_a_head_that_amplifies_its_features_still_exports_within_tolerance(crop, tmp_path):
    """A trained head on features of small spread (running_var 0.005-0.02) with probabilities near 0.5 lifts the
    runtimes' float32 summation differences past 1e-5: the region sums must not depend on the runtime's order."""
    from synthfake.detector.onnx_export import export_onnx, sample_pixels

    model, _ = load_base(None, SIZE, arch={"type": "residual_stats"})
    meta = DetectorMeta(image_size=SIZE)
    with torch.no_grad():
        f = model.features(torch.from_numpy(sample_pixels(meta, np.stack([crop]))))
        model.norm.running_mean.copy_(f.mean(0))
        model.norm.running_var.fill_(0.005)
        sign = torch.tensor([1.0, -1.0]).repeat(N_FEATURES // 2)
        model.head.weight.copy_(torch.stack([-0.34 * sign, 0.34 * sign]))
        model.head.bias.zero_()
    model.eval()
    assert export_onnx(model, meta, tmp_path, np.stack([crop]), log=lambda m: None) <= 1e-5


def test_mscn_statistics_see_a_smoothed_face_core_and_export(crop, tmp_path):
    """With `mscn`, 48 more columns: a face core smoothed (as a regenerated face is) holds less normalised detail and
    its neighbours are more alike (product over variance rises), while the margin ring's statistics stay; the model
    saves and exports as before."""
    import cv2

    from synthfake.detector.onnx_export import export_onnx
    from synthfake.detector.residual_stats import N_MSCN, feature_names

    model, meta = load_base(None, SIZE, arch={"type": "residual_stats", "mscn": True})
    fake = crop.copy()
    a, b = 48, SIZE - 48
    fake[a:b, a:b] = cv2.GaussianBlur(fake[a:b, a:b], (0, 0), 1.2)
    f = feats(model, [crop, fake])
    names = feature_names(True)
    assert f.shape == (2, N_FEATURES + N_MSCN) == (2, len(names)) and np.isfinite(f).all()
    col = {n: i for i, n in enumerate(names)}
    var, h = f[:, col["mscn1 var core"]], f[:, col["mscn1 h core"]]
    assert var[1] < var[0] - 0.3, var
    assert h[1] / np.exp(var[1]) > 1.2 * h[0] / np.exp(var[0]), (h, var)  # neighbour correlation
    for stat in ("var", "shape", "h"):
        assert abs(f[1, col[f"mscn1 {stat} ring"]] - f[0, col[f"mscn1 {stat} ring"]]) < 0.02, stat
    np.testing.assert_allclose(f[:, :N_FEATURES], feats(load_base(None, SIZE, arch={"type": "residual_stats"})[0],
                                                        [crop, fake]), atol=1e-6)  # the first 32 unchanged
    model.eval()
    save_detector(model, DetectorMeta(image_size=SIZE), tmp_path)
    loaded, _ = load_detector(tmp_path)
    assert loaded.config.mscn and loaded.norm.num_features == N_FEATURES + N_MSCN
    assert export_onnx(loaded, DetectorMeta(image_size=SIZE), tmp_path, np.stack([crop]), log=lambda m: None) <= 1e-5


def test_a_black_and_white_photo_is_judged_on_its_grey_levels(crop, tmp_path):
    """A colourless crop's chroma residuals are 0 by nature; they are set to the training mean, so the head does
    not read them as a fake's (a grey real photo scored 0.999 before 6 Dec). Colour crops are untouched, and the
    ONNX copy agrees."""
    import cv2

    from synthfake.detector.onnx_export import export_onnx
    from synthfake.detector.residual_stats import CHROMA

    model, meta = load_base(None, SIZE, arch={"type": "residual_stats"})
    grey = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
    x = torch.from_numpy(to_pixels([crop, grey], [False, False], [0.5] * 3, [0.5] * 3))
    model.train()
    model(x.repeat(4, 1, 1, 1), labels=torch.tensor([0, 1] * 4))  # running statistics from these crops
    model.eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.weight[1, CHROMA] = 1.0  # a head that reads only chroma
        model.head.bias.zero_()
        f = model.features(x)
        logits = model(x).logits
    assert f[1, CHROMA].max() < -6 and f[0, CHROMA].min() > -3  # no chroma residual at all in the grey crop
    assert model.colourless(x).ravel().tolist() == [False, True]
    z = (f[0, CHROMA] - model.norm.running_mean[CHROMA]) / torch.sqrt(model.norm.running_var[CHROMA] + 1e-5)
    assert torch.allclose(logits[0, 1], z.sum(), atol=1e-4) and logits[1, 1].abs() < 1e-6
    both = np.stack([crop, grey])
    assert export_onnx(model, DetectorMeta(image_size=SIZE), tmp_path, both, log=lambda m: None) <= 1e-5


def test_media_heads_score_a_video_s_crops_on_contrasts_alone(crop, tmp_path):
    """`media_heads`: a video's crop goes to a second head that sees only each region against its margin ring, so a
    global change of detail (a softer camera, codec or filter) cannot move it; each head learns from its own media
    only; the ONNX copy takes `is_video` and agrees; scoring tells the model which files are videos."""
    from synthfake.detector.crops import FileCrops
    from synthfake.detector.onnx_export import export_onnx, onnx_scorer
    from synthfake.detector.residual_stats import contrasts
    from synthfake.detector.score import score_stream
    from synthfake.detector.train import augment_settings
    from synthfake.detector.train_examples import CropDataset, collate

    model, meta = load_base(None, SIZE, arch={"type": "residual_stats", "media_heads": True})
    f = torch.randn(3, N_FEATURES)
    shift = torch.zeros(N_FEATURES)
    for b in range(0, N_FEATURES, 4):  # every region of one filter 2x or 0.5x the size: a log shift per filter
        shift[b:b + 4] = float(np.random.default_rng(b).normal())
    assert torch.allclose(contrasts(f + shift), contrasts(f), atol=1e-5) and contrasts(f).shape == (3, 23)

    soft = cv2_blur(crop)
    x = torch.from_numpy(to_pixels([crop, soft, crop, soft], [False] * 4, [0.5] * 3, [0.5] * 3))
    video = torch.tensor([0.0, 0.0, 1.0, 1.0])
    model.train()
    model(x.repeat(2, 1, 1, 1), labels=torch.tensor([0, 1] * 4), is_video=video.repeat(2))  # running statistics
    model.zero_grad()
    model(x[2:], labels=torch.tensor([0, 1]), is_video=video[2:]).loss.backward()  # a batch of video crops only
    assert model.head.weight.grad.abs().max() == 0 and model.video_head.weight.grad.abs().max() > 0
    model.eval()
    with torch.no_grad():
        both = model(x, is_video=video).logits
        as_images = model(x).logits  # no flag: every crop an image's
    assert torch.allclose(both[:2], as_images[:2]) and not torch.allclose(both[2:], as_images[2:])

    save_detector(model, meta, tmp_path)
    loaded, meta = load_detector(tmp_path)
    assert loaded.config.media_heads
    assert export_onnx(loaded, meta, tmp_path, np.stack([crop, soft]), log=lambda m: None) <= 1e-5
    files = [FileCrops("a.jpg", np.stack([crop])), FileCrops("a.mp4", np.stack([crop])), FileCrops("b.GIF", soft[None])]
    assert [fc.video for fc in files] == [False, True, True]
    ref = [s.prob for s in score_stream(loaded, files, meta, 2)]
    got = [s.prob for s in score_stream(onnx_scorer(tmp_path, meta), files, meta, 2)]
    assert np.allclose(ref, got, atol=1e-5) and abs(ref[0] - ref[1]) > 1e-3  # same crop, other media, other head

    np.savez(tmp_path / "c.npz", crops=crop[None])
    items = [(str(tmp_path / "c.npz"), 0, 0, False), (str(tmp_path / "c.npz"), 0, 1, True)]
    ds = CropDataset(items, meta, 0, augment_settings({}), media=True)
    batch = collate([ds[0], ds[1]])
    assert batch["is_video"].tolist() == [0.0, 1.0]
    assert "is_video" not in CropDataset(items, meta, 0, augment_settings({}))[1]  # a model without media heads


def cv2_blur(crop: np.ndarray) -> np.ndarray:
    """The whole crop softened alike (a beauty filter or a softer camera, not a paste-back)."""
    import cv2

    return cv2.GaussianBlur(crop, (0, 0), 1.2)


def test_a_spectrum_video_head_sees_a_render_scaled_into_its_frame_and_exports(crop, tmp_path):
    """`video_input: "spectrum"`: the radial spectrum is numpy's FFT of the windowed crop, ring by ring; a crop's
    contrast halved changes nothing; a crop rendered at 96 px and scaled back loses power in the upper rings only;
    the video head reads those 15 numbers and the ONNX copy (matrix products, no FFT operator) agrees."""
    import cv2

    from synthfake.detector.onnx_export import export_onnx
    from synthfake.detector.radial_spectrum import N_SPECTRUM

    model, meta = load_base(None, SIZE, arch={"type": "residual_stats", "media_heads": True,
                                              "video_input": "spectrum"})
    rendered = cv2.resize(cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA), (SIZE, SIZE),
                          interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(to_pixels([crop, rendered, crop], [False] * 3, [0.5] * 3, [0.5] * 3))
    x[2] = x[2] * 0.5 + 0.1  # half the contrast, a little brighter
    with torch.no_grad():
        spec, _ = model.video_features(model.features(x), x)
    assert spec.shape == (3, N_SPECTRUM)

    grey = crop.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    window = np.outer(np.hanning(SIZE), np.hanning(SIZE))
    power = np.abs(np.fft.fft2((grey - grey.mean()) * window)) ** 2
    f = np.minimum(np.arange(SIZE), SIZE - np.arange(SIZE))
    radius = np.hypot(f[:, None], f[None, :])
    edges = np.linspace(8, SIZE / 2, 17)
    ring = np.log([power[(radius >= a) & (radius < b)].mean() + 1e-3 for a, b in zip(edges[:-1], edges[1:])])
    assert np.abs(spec[0].numpy() - (ring[1:] - ring[0])).max() < 1e-3
    assert float((spec[2] - spec[0]).abs().max()) < 1e-4  # half the contrast: the same shape
    drop = (spec[1] - spec[0]).numpy()  # 96 px is 0.43 of the crop: rings above ~0.21 cycles/px (the 7th on) lose
    assert drop[:2].min() > -0.6 and drop[6:].max() < -0.5 and drop[6:].mean() < -1.2, drop  # power, the lowest keep it

    model.train()
    model(x.repeat(3, 1, 1, 1), labels=torch.tensor([0, 1, 0] * 3), is_video=torch.ones(9))  # running statistics
    model.eval()
    save_detector(model, meta, tmp_path)
    loaded, meta = load_detector(tmp_path)
    assert loaded.config.video_input == "spectrum" and loaded.video_head.in_features == N_SPECTRUM
    assert export_onnx(loaded, meta, tmp_path, np.stack([crop, rendered]), log=lambda m: None) <= 1e-5
    from synthfake.errors import SynthfakeError

    with pytest.raises(SynthfakeError, match="video_input 'fft': one of contrasts, spectrum"):
        load_base(None, SIZE, arch={"type": "residual_stats", "video_input": "fft"})
