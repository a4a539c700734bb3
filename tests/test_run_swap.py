"""`gen run --type face_swap` on real media: records match files, videos keep frame count and fps,
the swap moves the face toward the source identity and leaves the rest of the frame alone, and two runs
of one plan give identical manifests and media."""

from __future__ import annotations

import json

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.generators import swap_regions
from synthfake.generators.common import warp
from synthfake.files import sha256_file
from synthfake.manifest import read_records, resolve, stable_view
from synthfake.source_files import track_file
from synthfake.sources import load_index

from conftest import SWAP_DATASET, gen


def test_twelve_records_match_their_files(swap_dataset, data_dir):
    recs = read_records(swap_dataset)
    assert sorted(r.index for r in recs) == list(range(12))
    for r in recs:
        p = resolve(swap_dataset, r)
        assert p.exists() and p.stat().st_size == r.bytes and sha256_file(p) == r.sha256
        assert r.label == 1 and r.type == "face_swap" and r.backend == "landmark_swap" and r.weights == {}
        assert ({"feather", "color", "blend", "skipped_frames" if r.media.kind == "video" else "mask"} <= set(r.params)
                and r.seed >= 0)
        roles = {s.role: s for s in r.sources}
        assert roles["source"].identity != roles["target"].identity
        if r.media.kind == "video":
            target = media.probe(data_dir / roles["target"].path)
            out = media.probe(p)
            decoded = len(media.read_frames(p))
            assert decoded == r.params["clip_frames"] == r.media.frames
            assert out.fps == target.fps and out.audio == target.audio
        assert r.manipulated_frames / r.media.frames >= 0.9


def _source_embedding(data_dir, src_ref, index) -> np.ndarray:
    return np.array(index.get(src_ref.path).embedding, np.float32)


def test_swap_quality_identity_and_untouched_background(swap_dataset, data_dir):
    """On swapped frames, the face is closer to the source identity than the original target frame was (>= 80%
    of frames), and pixels outside the face hull (beyond a margin) stay >= 30 dB PSNR of the target."""
    index = load_index(swap_dataset / "sources.json")
    closer, frames_checked, psnrs = 0, 0, []
    d_before, d_after = [], []
    for r in read_records(swap_dataset):
        roles = {s.role: s for s in r.sources}
        src_emb = _source_embedding(data_dir, roles["source"], index)
        tpath = data_dir / roles["target"].path
        out_path = resolve(swap_dataset, r)
        if r.media.kind == "image":
            pairs = [(media.read_image(tpath), media.read_image(out_path), np.array(index.get(
                roles["target"].path).landmarks, np.float32))]
        else:
            start, n = r.params["clip_start"], r.params["clip_frames"]
            track = np.load(track_file(swap_dataset / "cache", roles["target"].sha256,
                                       index.get(roles["target"].path).embedding))
            tgt, out = media.read_frames(tpath, start, n), media.read_frames(out_path)
            pairs = [(tgt[k], out[k], track[start + k]) for k in range(0, n, 2)]
        for t_img, o_img, lm in pairs:
            if np.isnan(lm).any():
                continue
            ft, fo = faces.detect(t_img), faces.detect(o_img)
            frames_checked += 1
            if ft is None or fo is None:
                continue
            db = faces.distance(faces.embedding(t_img, ft), src_emb)
            da = faces.distance(faces.embedding(o_img, fo), src_emb)
            d_before.append(db)
            d_after.append(da)
            closer += da < db
            hull = warp.hull_mask(swap_regions.extend(lm), t_img.shape[:2])  # the swap reaches above the brows
            margin = max(4, int(0.06 * faces.box_from_landmarks(lm)[2] - 0.06 * faces.box_from_landmarks(lm)[0]))
            outside = cv2.dilate(hull, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) == 0
            psnrs.append(warp.psnr(t_img, o_img, outside.astype(np.uint8)))
    share = closer / frames_checked
    print(f"\nswap check on {frames_checked} frames: closer to source on {closer} ({share:.0%}); "
          f"distance to source: target {np.mean(d_before):.3f} -> swapped {np.mean(d_after):.3f}; "
          f"PSNR outside hull: min {min(psnrs):.1f} dB, mean {np.mean(psnrs):.1f} dB")
    assert frames_checked >= 25
    assert share >= 0.8
    assert min(psnrs) >= 30.0


def test_same_plan_twice_gives_identical_manifest_and_media(swap_dataset, data_dir, dataset_dir):
    again = dataset_dir("swap_again")  # one worker here, two in the fixture
    gen("run", *SWAP_DATASET, "--sources", data_dir, "--out", again, "--quiet")
    a = sorted((stable_view(r) for r in read_records(swap_dataset)), key=lambda v: v["index"])
    b = sorted((stable_view(r) for r in read_records(again)), key=lambda v: v["index"])
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert [v["sha256"] for v in a] == [v["sha256"] for v in b]
    assert (swap_dataset / "plan.json").read_bytes() == (again / "plan.json").read_bytes()


def test_rerun_of_a_finished_run_does_nothing(swap_dataset, data_dir):
    before = {p: p.stat().st_mtime_ns for p in (swap_dataset / "manifest").glob("*.jsonl")}
    proc = gen("run", *SWAP_DATASET, "--sources", data_dir, "--out", swap_dataset)
    assert "nothing to do" in proc.stderr
    assert before == {p: p.stat().st_mtime_ns for p in (swap_dataset / "manifest").glob("*.jsonl")}


def test_status_shows_types_and_shards(swap_dataset):
    proc = gen("status", swap_dataset, "--json")
    st = json.loads(proc.stdout)
    assert st["types"]["face_swap"] == {"planned": 12, "done": 12, "failed": 0, "left": 0}
    # the fixture ran --workers 2; the rerun above (one worker, nothing to do) leaves the claim as it was: the table
    # is of world size 2, counted by index (it showed world size 1, a partition that never wrote)
    w = st["world_size"]
    assert w == 2 and set(st["shards"]) == {"0/2", "1/2"} and st["other_world_sizes"] == []
    assert sum(s["done"] for s in st["shards"].values()) == 12
    text = gen("status", swap_dataset).stdout
    assert "face_swap" in text and "shard" in text and "left" in text
