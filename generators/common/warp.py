"""Landmark geometry shared by the weights-free backends: Delaunay, piecewise affine warp, masks, colour.

The warp is dense and vectorised: one triangle-id map is rasterised over the destination region, each
pixel gets its triangle's inverse affine, and a single `cv2.remap` samples the source.
"""

from __future__ import annotations

import cv2
import numpy as np


def delaunay(points: np.ndarray) -> np.ndarray:
    """Triangles (T, 3) as indices into `points`, from OpenCV's Delaunay subdivision."""
    pts = np.asarray(points, np.float32)
    x0, y0 = pts.min(0) - 10
    x1, y1 = pts.max(0) + 10
    sub = cv2.Subdiv2D((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
    for p in pts:
        sub.insert((float(p[0]), float(p[1])))
    corners = sub.getTriangleList().reshape(-1, 3, 2)
    d = np.linalg.norm(pts[None, None, :, :] - corners[:, :, None, :], axis=3)  # (T, 3, points)
    idx = d.argmin(2)
    near = np.take_along_axis(d, idx[..., None], 2)[..., 0].max(1) < 1.0  # every corner is one of the points
    distinct = (idx[:, 0] != idx[:, 1]) & (idx[:, 0] != idx[:, 2]) & (idx[:, 1] != idx[:, 2])
    keep = near & distinct
    return idx[keep].astype(np.int32) if keep.any() else np.array([], np.int32)


def per_pixel(table: np.ndarray, label: np.ndarray) -> list[np.ndarray]:
    """Each column of a (K, 6) table of triangle affines looked up at every pixel's triangle label: one cv2.LUT a
    column where the labels are 8 bits (the table then has 256 rows), a gather otherwise (the same values)."""
    if label.dtype == np.uint8:
        return [cv2.LUT(label, np.ascontiguousarray(table[:, j])) for j in range(table.shape[1])]
    return [np.take(table[:, j], label) for j in range(table.shape[1])]


def piecewise_affine(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray,
                     out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Warp `src` so that src_pts land on dst_pts, triangle by triangle.

    Returns the warped image (out_shape) and a uint8 mask of the pixels covered by the triangles.
    """
    h, w = out_shape
    dst = np.asarray(dst_pts, np.float32)
    srcp = np.asarray(src_pts, np.float32)
    x0, y0 = np.floor(dst.min(0)).astype(int).clip(0)
    x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
    x1, y1 = min(x1, w), min(y1, h)
    out = np.zeros((h, w) + src.shape[2:], src.dtype)
    mask = np.zeros((h, w), np.uint8)
    if x1 <= x0 or y1 <= y0:
        return out, mask
    small = len(tris) < 255  # triangle ids fit 8 bits (255: none): each coefficient is one cv2.LUT
    label = np.full((y1 - y0, x1 - x0), 255 if small else -1, np.uint8 if small else np.int32)
    aff = np.zeros((256 if small else len(tris), 2, 3), np.float64)
    for k, t in enumerate(tris):
        d, s = dst[t], srcp[t]
        e1, e2 = d[1] - d[0], d[2] - d[0]
        if abs(e1[0] * e2[1] - e1[1] * e2[0]) < 1e-3:  # degenerate triangle
            continue
        aff[k] = cv2.getAffineTransform(d.astype(np.float32), s.astype(np.float32))
        cv2.fillConvexPoly(label, np.round(d - (x0, y0)).astype(np.int32), int(k))
    covered = label != 255 if small else label >= 0
    if not covered.any():
        return out, mask
    a = per_pixel(aff.reshape(-1, 6), label if small else np.maximum(label, 0))  # each pixel's triangle's affine
    gx = np.arange(x0, x1)[None, :]
    gy = np.arange(y0, y1)[:, None]
    mx = np.where(covered, a[0] * gx + a[1] * gy + a[2], -1).astype(np.float32)
    my = np.where(covered, a[3] * gx + a[4] * gy + a[5], -1).astype(np.float32)
    roi = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    roi[~covered] = 0
    out[y0:y1, x0:x1] = roi
    mask[y0:y1, x0:x1] = covered.view(np.uint8) * 255
    return out, mask


def hull_mask(points: np.ndarray, shape: tuple[int, int], erode: int = 0) -> np.ndarray:
    """Filled convex hull of points as uint8 {0, 255}, optionally eroded by `erode` pixels."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    if erode > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
    return mask


SIMD_ALIGN = 64  # pixels: a crop's columns line up with the frame's for any vector width up to 64 floats


def grown_box(pts_or_mask: np.ndarray, margin: int, shape) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of integer points (or of a uint8 mask's nonzero pixels) grown by margin, within a
    frame of `shape`; its columns start on a multiple of SIMD_ALIGN and number a multiple of it, or end at the
    frame's, so that OpenCV's vector loops and their scalar tails (which round differently) fall on the same
    columns as on the whole frame. Empty (x1 <= x0) when there is nothing."""
    x, y, w, h = cv2.boundingRect(pts_or_mask)
    if w == 0 or h == 0:
        return 0, 0, 0, 0
    x0 = max(0, x - margin) // SIMD_ALIGN * SIMD_ALIGN
    x1 = x0 + -(-(x + w + margin - x0) // SIMD_ALIGN) * SIMD_ALIGN
    return x0, max(0, y - margin), min(shape[1], x1), min(shape[0], y + h + margin)


def kernel_size(sigma: float) -> int:
    """The Gaussian kernel size cv2.GaussianBlur picks for a float image and `sigma`."""
    return round(sigma * 4 * 2 + 1) | 1


def morph_around(op, mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cv2.erode or cv2.dilate (`op`) of a uint8 mask worked out on its nonzero box grown by the kernel: outside
    it the result is 0, inside every window sees what it sees on the whole mask (the same pixels, fewer)."""
    out = np.zeros_like(mask)
    x0, y0, x1, y1 = grown_box(mask, max(kernel.shape) // 2 + 1, mask.shape)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = op(mask[y0:y1, x0:x1], kernel)
    return out


def brow_lines(lm: np.ndarray, shape: tuple[int, int], width_px: int) -> np.ndarray:
    """The two brow landmark lines (17-21, 22-26) drawn `width_px` thick (uint8 mask)."""
    brows = np.zeros(shape, np.uint8)
    for idx in (np.arange(17, 22), np.arange(22, 27)):
        cv2.polylines(brows, [np.round(lm[idx]).astype(np.int32)], False, 255, max(2, int(width_px)))
    return brows


def feather(mask: np.ndarray, radius: int) -> np.ndarray:
    """Soft alpha in [0, 1] that stays inside the mask: erode by radius, then blur by radius."""
    if radius <= 0:
        return (mask > 0).astype(np.float32)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    inner = cv2.erode(mask, k)
    return cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (0, 0), radius / 2.0) * (mask > 0)


def lab_transfer(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match src's per-channel LAB mean and std to ref's, measured inside mask (RGB uint8 in and out)."""
    if np.count_nonzero(mask) < 16:
        return src
    s = match_lab_stats(cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32),
                        cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32), mask > 0)
    return cv2.cvtColor(np.clip(s, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def match_lab_stats(s: np.ndarray, r: np.ndarray, m: np.ndarray, gain: tuple[float, float] | None = None) -> np.ndarray:
    """Float LAB `s` with its per-channel mean and std inside boolean mask m matched to `r`'s; `gain` bounds
    the std ratio (None: unbounded)."""
    sm, ss = s[m].mean(0), s[m].std(0) + 1e-3
    rm, rs = r[m].mean(0), r[m].std(0) + 1e-3
    return (s - sm) * (rs / ss if gain is None else np.clip(rs / ss, *gain)) + rm


def poisson_blend(src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """cv2.seamlessClone of src into dst inside mask, in place (same coordinates), RGB in and out."""
    x, y, w, h = cv2.boundingRect(mask)
    if w < 3 or h < 3:
        return dst.copy()
    H, W = mask.shape
    m = mask.copy()
    m[:2], m[-2:], m[:, :2], m[:, -2:] = 0, 0, 0, 0  # seamlessClone needs a border around the mask
    x, y, w, h = cv2.boundingRect(m)
    center = (x + w // 2, y + h // 2)
    out = cv2.seamlessClone(np.ascontiguousarray(src[:, :, ::-1]), np.ascontiguousarray(dst[:, :, ::-1]),
                            m, center, cv2.NORMAL_CLONE)
    return out[:, :, ::-1]


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between two uint8 images, over mask where given."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        d = d[mask > 0]
    mse = float(d.mean()) if d.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)



def triangle_affines(src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the 2x3 affine taking dst to src (T, 2, 3), and which triangles are non-degenerate."""
    d = np.asarray(dst_pts, np.float64)[tris]  # (T, 3, 2)
    s = np.asarray(src_pts, np.float64)[tris]
    m = np.concatenate([d.transpose(0, 2, 1), np.ones((len(tris), 1, 3))], 1)  # (T, 3, 3) columns [x, y, 1]
    ok = np.abs(np.linalg.det(m)) > 1e-3
    aff = np.zeros((len(tris), 2, 3))
    aff[ok] = s.transpose(0, 2, 1)[ok] @ np.linalg.inv(m[ok])
    return aff, ok


def stretch(aff: np.ndarray) -> np.ndarray:
    """Per (T, 2, 3) affine, the largest factor by which its linear part stretches a length (its top singular
    value): about 1 for a triangle that keeps its shape, huge for one whose output is a sliver."""
    return np.linalg.svd(aff[:, :, :2], compute_uv=False)[:, 0] if len(aff) else np.zeros(0)


def warp_region(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray,
                roi: tuple[int, int, int, int], max_stretch: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`piecewise_affine` restricted to roi = (x0, y0, x1, y1) of the output, via per-pixel table lookup.

    Returns the warped patch (roi-sized) and its coverage mask; several times faster than a gather of
    full affines when the triangles cover a large area (a whole frame with border anchors). `max_stretch`: a
    triangle whose output is a sliver (its output-to-source map stretches more than this) is not drawn: its
    rasterised line of pixels sampled points strewn over its whole source triangle (teeth, lip line), a dotted
    trail from cheek to mouth corner (wild/reals, 7 Dec); its neighbours or the caller's background cover them.
    """
    x0, y0, x1, y1 = roi
    dst = np.asarray(dst_pts, np.float32)
    aff, ok = triangle_affines(src_pts, dst_pts, tris)
    if max_stretch is not None:
        ok &= stretch(aff) <= max_stretch
    small = len(tris) < 256  # triangle ids fit 8 bits: each coefficient is one cv2.LUT, not a 6-wide gather
    label = np.full((y1 - y0, x1 - x0), len(tris), np.uint8 if small else np.int32)
    for k in np.nonzero(ok)[0]:
        cv2.fillConvexPoly(label, np.round(dst[tris[k]] - (x0, y0)).astype(np.int32), int(k))
    table = np.zeros((256 if small else len(tris) + 1, 6), np.float32)
    table[:len(tris)] = aff.reshape(-1, 6)
    table[len(tris)] = (0, 0, -1, 0, 0, -1)  # uncovered pixels: sampled just outside (cheap to reflect), masked out
    c = per_pixel(table, label)
    gx = np.arange(x0, x1, dtype=np.float32)[None, :]
    gy = np.arange(y0, y1, dtype=np.float32)[:, None]
    mx = c[0] * gx + c[1] * gy + c[2]
    my = c[3] * gx + c[4] * gy + c[5]
    patch = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.where(label < len(tris), 255, 0).astype(np.uint8)
    return patch, mask



def draw_teeth(rng: np.random.Generator) -> float:
    """A seeded `teeth` for fill_mouth: no teeth (2 in 5), else a band 0.18-0.32 of the gap high."""
    return 0.0 if rng.random() < 0.4 else round(float(rng.uniform(0.18, 0.32)), 3)


CAVITY = (0.36, 0.2)  # fill_mouth's cavity: the lips' colour times 0.36 at the lips, 0.2 less deep inside


def fill_mouth(rgb: np.ndarray, lm: np.ndarray, strength: float, teeth: float = 0.0,
               cavity: tuple[float, float] = CAVITY) -> np.ndarray:
    """Paint a mouth interior inside the inner-lip polygon (points 60-67): a cavity tinted by the lips that
    darkens away from the lips (`cavity`: its level at the lips and how much less deep inside, in the lips'
    colour), a tongue's warmth low in it, an upper-teeth band `teeth` of the gap high with gaps between teeth and
    shade towards the corners, and grain like the frame's; `strength` in [0, 1] is its opacity. Needed wherever a
    warp opens a mouth that was closed: stretched lip pixels are not a mouth, and a flat painted polygon is a
    shortcut of its own (audit check 8 sees it as uncovered).
    """
    if strength <= 0:
        return rgb
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(lm[48:68].min(0)).astype(int).clip(0) - 4
    x1, y1 = np.ceil(lm[48:68].max(0)).astype(int) + 5
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return rgb
    crop, pts = rgb[y0:y1, x0:x1], lm - (x0, y0)
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts[60:68]).astype(np.int32)], 255)
    if mask.sum() < 255 * 4:
        return rgb
    lips = np.zeros_like(mask)
    cv2.fillPoly(lips, [np.round(pts[48:60]).astype(np.int32)], 255)
    lips[mask > 0] = 0
    lip = crop[lips > 0].mean(0) if (lips > 0).sum() > 8 else np.array([150.0, 80, 80])
    e = pts[45] - pts[36]
    along = e / (np.linalg.norm(e) + 1e-6)
    down = np.array([-along[1], along[0]])
    gap = max(float(np.linalg.norm(pts[[61, 62, 63]] - pts[[67, 66, 65]], axis=1).mean()), 1.0)
    width = max(float(np.linalg.norm(pts[64] - pts[60])), 1.0)
    yy, xx = np.mgrid[0:crop.shape[0], 0:crop.shape[1]].astype(np.float32)
    across = ((xx - pts[62, 0]) * along[0] + (yy - pts[62, 1]) * along[1]) / (0.5 * width)  # -1..1 corner to corner
    depth = ((xx - pts[62, 0]) * down[0] + (yy - pts[62, 1]) * down[1]) / gap  # 0 at the upper lip, 1 at the lower
    inner = cv2.distanceTransform(mask, cv2.DIST_L2, 3) / max(0.5 * gap, 1.0)  # 0 at the lips, 1 deep inside
    shade = (cavity[0] - cavity[1] * np.clip(inner, 0, 1))[..., None]
    fill = lip[None, None, :] * shade
    fill += (np.clip(depth - 0.6, 0, 0.4) / 0.4)[..., None] * np.array([38.0, 8, 10])  # the tongue, low at the back
    if teeth > 0:  # upper teeth: the part of the cavity within teeth * gap below the upper lip's middle
        band = depth <= teeth
        tooth = 1.0 - 0.16 * np.abs(np.cos(np.pi * across * 3.5)) ** 8  # dark seams between the front teeth
        tone = (np.clip(lip.mean() / 110.0, 0.55, 1.0) * np.clip(1.0 - 0.35 * np.abs(across) ** 1.5, 0.5, 1.0)
                * np.clip(1.0 - 0.6 * (depth / max(teeth, 1e-3)) ** 4, 0.6, 1.0) * tooth)
        fill[band] = (np.array([214.0, 205, 190]) * tone[..., None])[band]
    grain = np.random.default_rng(0).normal(0.0, 2.5, crop.shape[:2]).astype(np.float32)[..., None]
    fill = cv2.GaussianBlur(fill.astype(np.float32), (0, 0), 0.7) + grain  # grain fixed to the mouth: no flicker
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.2)[..., None] * float(min(strength, 1.0))
    return paste(rgb, (x0, y0, x1, y1), fill, alpha)


def blend(top: np.ndarray, base: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha * top + (1 - alpha) * base rounded to uint8: the one way a made patch is mixed into real pixels.

    Worked out on the box where alpha is not 0 only (a face is a small part of a frame): outside it the formula
    gives an 8-bit base back exactly (0 * top + 1 * base + 0.5, truncated), so the bytes are the same."""
    box = _support(top, base, alpha)
    if box is None:
        return _mix(top, base, alpha)
    y0, y1, x0, x1 = box
    out = base.copy()
    out[y0:y1, x0:x1] = _mix(top[y0:y1, x0:x1], base[y0:y1, x0:x1], alpha[y0:y1, x0:x1])
    return out


def _support(top: np.ndarray, base: np.ndarray, alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) holding every alpha that is not 0, or None where the whole array is the quicker way (no
    such box, not a per-pixel alpha, not an 8-bit base)."""
    if base.dtype != np.uint8 or np.ndim(alpha) < 2 or not (top.shape[:2] == base.shape[:2] == alpha.shape[:2]):
        return None
    nonzero = alpha != 0
    if nonzero.ndim == 3:
        nonzero = nonzero.any(axis=2)
    x, y, w, h = cv2.boundingRect(nonzero.view(np.uint8))
    if w * h > 0.8 * nonzero.size:
        return None
    return y, y + h, x, x + w


def _mix(top: np.ndarray, base: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`blend`'s formula over whole arrays."""
    out, rest = alpha * top, (1 - alpha) * base
    if out.dtype != np.result_type(out, rest):
        out = out.astype(np.result_type(out, rest))
    out += rest  # the sum, rounding and clip in place: the same floats, fewer frame-sized temporaries
    out += 0.5
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def paste(frame: np.ndarray, box: tuple[int, int, int, int], patch: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A copy of `frame` with `patch` blended by `alpha` into its box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    out = frame.copy()
    out[y0:y1, x0:x1] = blend(patch, frame[y0:y1, x0:x1], alpha)
    return out
