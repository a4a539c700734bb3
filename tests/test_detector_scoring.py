"""Scoring with a tiny ViT in-process: streaming and flip TTA are exact for any batch size, and the fake class is
found by its name whatever its index."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from synthfake.detector.crops import CropSettings, file_crops  # noqa: E402
from synthfake.detector.meta import DetectorMeta, fake_index  # noqa: E402
from synthfake.detector.model import load_detector, save_detector, tiny_config  # noqa: E402
from synthfake.detector.score import fake_probs, score_parts, score_stream, to_pixels  # noqa: E402
from synthfake.detector.crops import FileCrops  # noqa: E402
from synthfake.errors import SynthfakeError  # noqa: E402

SIZE = 64


@pytest.fixture(scope="module")
def crops(data_dir, tmp_path_factory):
    """Crops of two videos, a photo, and a non-face photo (no crops) in the middle of the stream."""
    d = tmp_path_factory.mktemp("media")
    s = CropSettings(frames=12, size=SIZE)
    out = []
    for name in ("videos/talk_d18.mp4", "nonfaces/animal_s31.jpg", "faces/photo_s1.jpg", "videos/talk_d20.mp4"):
        shutil.copy(data_dir / name, d / name.split("/")[1])
        out.append(file_crops(d / name.split("/")[1], s))
    return out


def _tiny(labels: dict[int, str], crops):
    """A random tiny ViT whose head is rescaled so that crop probabilities spread over (0, 1)."""
    from transformers import ViTForImageClassification

    torch.manual_seed(0)
    cfg = tiny_config(SIZE)
    cfg.id2label, cfg.label2id = dict(labels), {v: k for k, v in labels.items()}
    model = ViTForImageClassification(cfg).eval()
    x = to_pixels([c for f in crops for c in f.crops], [False] * sum(len(f.crops) for f in crops), [0.5] * 3, [0.5] * 3)
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(x)).logits
        d = logits[:, 1] - logits[:, 0]
        k = 3.0 / float(d.std())
        model.classifier.weight.mul_(k)
        model.classifier.bias.mul_(k)
        model.classifier.bias[1] -= k * float(d.mean())
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory, crops):
    """One classifier saved with labels {0: Realism, 1: Deepfake}, and reversed with its head rows swapped."""
    root = tmp_path_factory.mktemp("ckpt")
    a = _tiny({0: "Realism", 1: "Deepfake"}, crops)
    b = _tiny({0: "Deepfake", 1: "Realism"}, crops)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        b.classifier.weight.copy_(a.classifier.weight.flip(0))
        b.classifier.bias.copy_(a.classifier.bias.flip(0))
    a.save_pretrained(root / "named")
    b.save_pretrained(root / "reversed")
    _tiny({0: "LABEL_0", 1: "LABEL_1"}, crops).save_pretrained(root / "unnamed")
    return root


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_streaming_and_tta_are_exact_for_any_batch_size(crops, saved, attn):
    model, meta = load_detector(saved / "named", attn=attn)
    runs = {bs: list(score_stream(model, crops, meta, bs)) for bs in (1, 7, 64)}
    ref = []  # each file alone: all its crops and their flips in one forward pass
    for fc in crops:
        c = list(fc.crops)
        p = (fake_probs(model, to_pixels(c + c, [False] * len(c) + [True] * len(c), meta.mean, meta.std), 1)
             if c else None)
        ref.append(None if p is None else float(p.astype(np.float64).mean()))
    for bs, scores in runs.items():
        assert [s.path for s in scores] == [f.path for f in crops]
        assert scores[1].prob is None and scores[1].reason.startswith("no face")
        for s, r in zip(scores, ref):
            assert (s.prob is None) == (r is None)
            if r is not None:
                assert abs(s.prob - r) <= 1e-5, (bs, s.path, s.prob, r)
    probs = [r for r in ref if r is not None]
    assert max(probs) - min(probs) > 0.05, "files score differently, so a mix-up of crops would be caught"
    no_tta = list(score_stream(model, crops, meta, 7, tta=False))
    assert max(abs(a.prob - b.prob) for a, b in zip(no_tta, runs[7]) if a.prob is not None) > 1e-3


def test_interleaved_parts_score_like_whole_files(crops, saved):
    """Parts of several files arriving interleaved (as from the decoding processes) give the same scores."""
    model, meta = load_detector(saved / "named")
    whole = list(score_stream(model, crops, meta, 64))
    parts = []
    for seq, fc in enumerate(crops):
        cut = list(range(0, len(fc.crops), 5)) or [0]
        parts.append([(seq, FileCrops(fc.path, fc.crops[i:i + 5], fc.frames[i:i + 5], fc.sampled, fc.reason,
                                      last=i == cut[-1])) for i in cut])
    mixed = [p for k in range(max(map(len, parts))) for f in reversed(parts) for p in f[k:k + 1]]
    assert [seq for seq, _ in mixed[:4]] == [3, 2, 1, 0]
    for bs in (1, 7, 64):
        got = list(score_parts(model, mixed, meta, bs))
        assert [g.path for g in got] == [f.path for f in crops]
        for g, w in zip(got, whole):
            assert g.crops == w.crops and (g.prob is None) == (w.prob is None)
            assert g.prob is None or abs(g.prob - w.prob) <= 1e-5


def test_fake_class_found_by_name_in_either_order(saved, crops):
    named, m1 = load_detector(saved / "named")
    rev, m2 = load_detector(saved / "reversed")
    assert (m1.fake_index, m1.fake_label, m2.fake_index, m2.fake_label) == (1, "Deepfake", 0, "Deepfake")
    a = list(score_stream(named, crops, m1, 16))
    b = list(score_stream(rev, crops, m2, 16))
    assert [x.prob is None for x in a] == [y.prob is None for y in b]
    assert max(abs(x.prob - y.prob) for x, y in zip(a, b) if x.prob is not None) < 1e-6
    assert max(x.prob for x in a if x.prob is not None) - min(x.prob for x in a if x.prob is not None) > 0.05
    with pytest.raises(SynthfakeError, match="LABEL_0"):
        load_detector(saved / "unnamed")
    assert fake_index({"0": "real", "1": "FAKE"}) == 1 and fake_index({0: "AI-generated", 1: "human"}) == 0
    assert fake_index({0: "Spoof", 1: "Live"}) == 0 and fake_index({0: "bona fide", 1: "manipulated"}) == 1
    with pytest.raises(SynthfakeError, match="more than one"):
        fake_index({0: "fake_a", 1: "deepfake_b"})


def test_base_with_named_labels_keeps_its_head(saved):
    from synthfake.detector.model import load_base

    model, meta = load_base(saved / "reversed", log=lambda m: None)
    assert (meta.fake_index, meta.fake_label, meta.image_size) == (0, "Deepfake", SIZE)
    notes = []
    model, meta = load_base(saved / "unnamed", log=notes.append)
    assert (meta.fake_index, model.config.id2label[1]) == (1, "Fake") and "new 2-class head" in notes[0]
    # and new it is: a 2-class head has the new head's shape, so its weights had been loaded and kept under the
    # new labels (a base whose class 0 meant fake came out inverted; 7 Dec sweep)
    from transformers import ViTForImageClassification

    old_head = ViTForImageClassification.from_pretrained(saved / "unnamed", local_files_only=True).classifier
    assert old_head.out_features == 2 and not torch.equal(model.classifier.weight, old_head.weight)
    assert torch.count_nonzero(model.classifier.bias) == 0 and torch.count_nonzero(old_head.bias) > 0


def test_trained_folder_meta_must_agree_with_labels(saved, tmp_path):
    from transformers import ViTForImageClassification

    model = ViTForImageClassification.from_pretrained(saved / "reversed", local_files_only=True)
    save_detector(model, DetectorMeta(image_size=SIZE, fake_index=0, fake_label="Deepfake", threshold=0.3), tmp_path)
    _, meta = load_detector(tmp_path)
    assert (meta.threshold, meta.fake_index) == (0.3, 0)
    save_detector(model, DetectorMeta(image_size=SIZE, fake_index=1), tmp_path)
    with pytest.raises(SynthfakeError, match="disagrees"):
        load_detector(tmp_path)
    with pytest.raises(SynthfakeError, match="--fp16"):
        load_detector(saved / "named", fp16=True)
    with pytest.raises(SynthfakeError, match="not a model folder"):
        load_detector(tmp_path / "nope")


def test_pixels_match_the_vit_image_processor():
    """to_pixels (one fused multiply-add) gives what transformers' ViTImageProcessor gives for 224 px crops,
    flips included, with the ImageNet statistics and with 0.5/0.5."""
    from transformers import ViTImageProcessor

    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(3)]
    for mean, std in (([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), ([0.5] * 3, [0.5] * 3)):
        proc = ViTImageProcessor(size={"height": 224, "width": 224}, image_mean=mean, image_std=std)
        want = proc(images=[c[:, ::-1] for c in crops[:1]] + crops[1:], return_tensors="np")["pixel_values"]
        got = to_pixels(crops, [True, False, False], mean, std)
        assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
        assert np.abs(got - want).max() < 1e-5
