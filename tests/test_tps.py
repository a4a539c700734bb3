"""The thin-plate spline and crop_reenact 1.4's head band on real media: no seam at the ring, fewer folds.

crop_reenact 1.3 moved its whole ring with the head, also where the paste-back keeps the photo still, so the
neck showed a cut along the ring's lower edge in every moving frame; and the band between a moved jaw and the
ring was drawn by triangles that turned over (a second chin). 1.4 moves each ring point only as far as the
still zone lets the background beside it move, and redraws the band by a spline through the face outline and ring.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthfake import landmarks as lmk
from synthfake.generators import crop_reenact, source_face_at_most
from synthfake.generators import landmark_reenact as lr
from synthfake.generators.common import align, tps

from test_reenact import sources_for


def folded(mx: np.ndarray, my: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of pixels (under mask) where a backward map turns over (its Jacobian's determinant is not positive)."""
    det = np.gradient(mx, axis=1) * np.gradient(my, axis=0) - np.gradient(mx, axis=0) * np.gradient(my, axis=1)
    bad = det <= 0
    return float(bad[mask > 0].mean() if mask is not None else bad.mean())


def test_the_spline_passes_through_its_points_and_keeps_an_affine_map_affine():
    rng = np.random.default_rng(3)
    roi = (10, 12, 210, 215)
    lattice = rng.choice(np.arange(2, 48) * tps.STEP, (40, 2))  # on the pixels the spline is evaluated at
    dst = np.unique(lattice, axis=0) + (roi[0], roi[1])
    src = dst + rng.normal(0, 4, dst.shape)
    mx, my = tps.backward_map(dst, src, roi)
    got = np.stack([mx[dst[:, 1] - roi[1], dst[:, 0] - roi[0]], my[dst[:, 1] - roi[1], dst[:, 0] - roi[0]]], 1)
    assert np.abs(got - src).max() < 1e-3
    a = np.array([[1.1, 0.2, -7.0], [-0.15, 0.95, 4.0]])
    mx, my = tps.backward_map(dst, dst @ a[:, :2].T + a[:, 2], roi)
    gx, gy = np.meshgrid(np.arange(10, 210), np.arange(12, 215))
    assert np.abs(mx - (a[0, 0] * gx + a[0, 1] * gy + a[0, 2])).max() < 1e-3
    assert np.abs(my - (a[1, 0] * gx + a[1, 1] * gy + a[1, 2])).max() < 1e-3


def test_two_points_on_one_pixel_with_sources_apart_do_not_blow_the_spline_up():
    """Closed output lips put inner-lip points on one pixel while their sources stay apart: solved as given, the
    weights reached 1e48 and the map overflowed (talk_d3 driving photo_s42, 7 Dec)."""
    dst = np.array([[50.0, 50], [50.0, 50.4], [90, 60], [60, 100], [100, 100], [20, 80]])
    src = dst + [[0, -3], [0, 3], [0, 0], [0, 0], [0, 0], [0, 0]]
    mx, my = tps.backward_map(dst, src, (0, 0, 128, 128))
    assert np.isfinite(mx).all() and np.isfinite(my).all()
    assert abs(float(my[50, 50]) - 50.2) < 1.0  # the mean of the two sources
    assert folded(mx, my) == 0.0


@pytest.fixture(scope="module")
def driven(data_dir, tmp_path_factory):
    """photo_s1 driven by talk_d12 as crop_reenact drives it: (crop, its landmarks, ring, out_lm, motion, still, p)."""
    root = tmp_path_factory.mktemp("tps")
    srcs = sources_for(data_dir, root, ["faces/photo_s1.jpg", "videos/talk_d12.mp4"], ["source", "driving"])
    p = crop_reenact.draw(7)
    img, lm = source_face_at_most(srcs[0], p, even=True, closed_gap=crop_reenact.LIP_ZERO_GAP)
    crop, m = crop_reenact.source_crop(img, lm, crop_reenact.INPUT)
    c = align.transform_points(lm, m).astype(np.float32)
    track, neutral, _ = lr.driving_track(srcs[1], 0, srcs[1].item.frames, p)
    out_lm, motion = lr.drive(crop_reenact.lips_closed(c), track, neutral, p)
    ring = lmk.ring(c, p["ring_scale"], p["ring_points"], crop.shape)
    crop_reenact.keep_inside(out_lm, motion, ring, crop_reenact.INPUT, p)
    return crop, c, ring, out_lm, motion, crop_reenact.still_zone(crop_reenact.INPUT, p), p


def _ring_mismatch(ring, moved, motion, still, p, c_lm) -> float:
    """Largest distance between where the head puts a ring point's source and where the background map, which
    takes over beside it, takes that pixel from: a seam along the ring when large."""
    falloff = p["falloff"] * float(lmk.interocular(c_lm))
    covered = np.zeros(still.shape, np.uint8)
    cv2.fillConvexPoly(covered, cv2.convexHull(np.round(moved).astype(np.int32)), 255)
    mx, my = lr.background_map(covered, motion, falloff, still)
    q = np.clip(np.round(moved).astype(int), 0, still.shape[0] - 1)
    back = np.stack([mx[q[:, 1], q[:, 0]], my[q[:, 1], q[:, 0]]], 1)
    return float(np.abs(back - ring - (q - moved)).max())


def test_the_ring_moves_no_further_than_the_background_beside_it(driven):
    crop, c, ring, out_lm, motion, still, p = driven
    new = max(_ring_mismatch(ring, lr.ring_moved(ring, motion[t], still), motion[t], still, p, c)
              for t in range(len(motion)))
    old = max(_ring_mismatch(ring, lmk.apply(motion[t], ring), motion[t], still, p, c) for t in range(len(motion)))
    print(f"\nring seam over {len(motion)} frames: largest {new:.2f} px (1.3's whole-ring motion: {old:.2f} px)")
    assert new < 1.5 < 3 < old


def test_the_band_spline_folds_in_fewer_frames_than_the_triangles_turn_over(driven):
    crop, c, ring, out_lm, motion, still, p = driven
    src_pts = np.vstack([c, ring])
    tris = lr.topology(c, ring)
    outline = np.r_[tps.OUTLINE, 68:len(src_pts)]

    def area(q):
        t = q[tris]
        return ((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                - (t[:, 2, 0] - t[:, 0, 0]) * (t[:, 1, 1] - t[:, 0, 1]))

    turned, folds = [], []
    for t in range(len(motion)):
        dst = np.vstack([out_lm[t], lr.ring_moved(ring, motion[t], still)])
        turned.append(bool(((np.sign(area(src_pts)) != np.sign(area(dst))) & (tris.max(1) >= 68)).any()))
        x0, y0, x1, y1 = box = lr._head_box(dst, crop.shape)
        mx, my = tps.backward_map(dst[outline], src_pts[outline], box)
        band = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(band, cv2.convexHull(np.round(dst - (x0, y0)).astype(np.int32)), 255)
        cv2.fillConvexPoly(band, cv2.convexHull(np.round(dst[tps.OUTLINE] - (x0, y0)).astype(np.int32)), 0)
        folds.append(folded(mx, my, band))
    folds = np.array(folds)
    print(f"\nframes with a ring triangle turned over: {np.mean(turned):.2f}; with the band spline folded: "
          f"{(folds > 0).mean():.2f} (largest share of the band {folds.max():.4f})")
    assert np.mean(turned) > 0.3 and (folds > 0).mean() < np.mean(turned) / 2 and folds.max() < 0.05
