"""A thin-plate-spline backward map through control points, and the head band of a reenactment drawn by it.

A piecewise-affine warp bends at every triangle edge, and where a driven jaw point passes its neighbour on the ring
a triangle turns over and shows its source mirrored: a second chin contour below the moved one (crop_reenact 1.3,
held-out sources, 7 Dec). LivePortrait warps by a dense flow field, smooth between its keypoints; a thin-plate
spline through the face outline and the ring is smooth and bends least, so the band it stretches stays one band.
Inside the face the triangles stay: a spline through every landmark folds over half the face when a turned head's
jaw line crosses an eye (talk_d3 driving photo_s42, 7 Dec).
"""

from __future__ import annotations

import cv2
import numpy as np

STEP = 4  # the spline is evaluated every STEP output pixels and bilinearly filled between (it is smooth)
MERGE_PX = 1.0  # output points closer than this are one control point (closed lips): no map parts them
OUTLINE = np.r_[0:27]  # the 68-point face's outline: jaw 0-16 and brows 17-26; the band lies between it and the ring


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r between every point of a (N, 2) and of b (M, 2), 0 at r = 0."""
    r2 = np.subtract.outer(a[:, 0], b[:, 0]) ** 2
    r2 += np.subtract.outer(a[:, 1], b[:, 1]) ** 2
    return 0.5 * r2 * np.log(np.maximum(r2, 1e-300))


def merged(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dst points within MERGE_PX of an earlier one dropped, that one's source the mean of theirs: two inner-lip
    points on one output pixel with sources apart would ask the spline for an infinite gradient."""
    dst, src = np.asarray(dst, np.float64), np.asarray(src, np.float64)
    near = np.hypot(*(dst[:, None, :] - dst[None, :, :]).transpose(2, 0, 1)) < MERGE_PX
    np.fill_diagonal(near, False)
    if not near.any():  # most frames: every point its own
        return dst, src
    keep, groups = [], []
    for i in range(len(dst)):
        joins = [g for g, k in enumerate(keep) if near[k, i]]
        if joins:
            groups[joins[0]].append(i)
        else:
            keep.append(i)
            groups.append([i])
    return dst[keep], np.stack([src[g].mean(0) for g in groups])


def fit(dst: np.ndarray, src: np.ndarray, reg: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """The spline taking dst points to src points: (weights (N, 2), affine part (3, 2), coordinate scale).
    `reg` > 0 trades exactness at the points for less bending (in units of the points' spread squared)."""
    dst = np.asarray(dst, np.float64)
    scale = float(max(np.ptp(dst, 0).max(), 1.0))
    d = dst / scale
    n = len(d)
    k = _kernel(d, d) + reg * np.eye(n)
    p = np.hstack([np.ones((n, 1)), d])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = np.asarray(src, np.float64)
    try:
        sol = np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:  # a degenerate set (all points on one line): the least-squares spline
        sol = np.linalg.lstsq(a, rhs, rcond=None)[0]
    return sol[:n], sol[n:], scale


def backward_map(dst: np.ndarray, src: np.ndarray, roi: tuple[int, int, int, int],
                 reg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """For every output pixel of roi = (x0, y0, x1, y1), the source (x, y) the spline through dst -> src gives:
    two float32 arrays of the roi's shape, as cv2.remap takes them."""
    x0, y0, x1, y1 = roi
    dst, src = merged(dst, src)
    w, a, scale = fit(dst, src, reg)
    nx, ny = -(-(x1 - 1 - x0) // STEP) + 1, -(-(y1 - 1 - y0) // STEP) + 1
    gx, gy = np.meshgrid(x0 + STEP * np.arange(nx), y0 + STEP * np.arange(ny))
    g = np.stack([gx.ravel(), gy.ravel()], 1) / scale
    coarse = _kernel(g, dst / scale) @ w + np.hstack([np.ones((len(g), 1)), g]) @ a
    cx = np.arange(x1 - x0, dtype=np.float32)[None, :].repeat(y1 - y0, 0) / STEP
    cy = np.arange(y1 - y0, dtype=np.float32)[:, None].repeat(x1 - x0, 1) / STEP
    maps = [cv2.remap(coarse[:, i].reshape(ny, nx).astype(np.float32), cx, cy, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE) for i in (0, 1)]
    return maps[0], maps[1]


def band_over(head: np.ndarray, inside: np.ndarray, src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray,
              roi: tuple[int, int, int, int], reg: float = 0.0) -> None:
    """Redraw, in place, the band between the face outline and the ring (points 68 on of src_pts/dst_pts) of a
    piecewise-affine head (`warp.warp_region`'s patch and coverage over roi) by the spline through the outline and
    ring alone."""
    x0, y0, x1, y1 = roi
    pts = np.r_[OUTLINE, 68:len(dst_pts)]
    face = np.zeros(inside.shape, np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(np.round(dst_pts[OUTLINE] - (x0, y0)).astype(np.int32)), 255)
    band = (inside > 0) & (face == 0)
    if not band.any():
        return
    mx, my = backward_map(dst_pts[pts], src_pts[pts], roi, reg)
    np.copyto(head, cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), where=band[..., None])
