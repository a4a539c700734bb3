"""68-point landmark measures and transforms shared by the backends, the sources index and the exports.

Index groups follow dlib's 68-point scheme: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
outer lips 48-59, inner lips 60-67.
"""

from __future__ import annotations

import numpy as np

from synthfake.faces import jumped

# Points that move with the skull, not with expression: upper jaw line, nose, eye corners.
RIGID = np.array([0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])
UPPER_INNER = np.array([61, 62, 63])
LOWER_INNER = np.array([67, 66, 65])  # paired with UPPER_INNER
INNER_MOUTH = np.arange(60, 68)
# insightface's ArcFace 5-point template for a 112 px crop (eye centres, nose tip, mouth corners)
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lm[..., 36:42, :].mean(-2), lm[..., 42:48, :].mean(-2)


def interocular(lm: np.ndarray) -> np.ndarray:
    """Distance between the eye centres (the face's scale unit); works on (68, 2) or (T, 68, 2)."""
    a, b = eye_centres(lm)
    return np.linalg.norm(b - a, axis=-1)


def up_vector(lm: np.ndarray) -> np.ndarray:
    """Unit vector pointing up the face (perpendicular to the eye line), in image coordinates."""
    a, b = eye_centres(lm)
    e = (b - a) / np.linalg.norm(b - a, axis=-1, keepdims=True)
    return np.stack([e[..., 1], -e[..., 0]], -1)


def height_above(shape: tuple[int, int], lm: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Per pixel of an image of `shape`: its distance above `point` along the face's up vector (negative below)."""
    up = up_vector(lm)
    xx, yy = np.arange(shape[1])[None, :], np.arange(shape[0])[:, None]  # each term is one row or column's
    return (xx - point[0]) * up[0] + (yy - point[1]) * up[1]


def mouth_gap(lm: np.ndarray) -> np.ndarray:
    """Mean inner-lip gap in pixels along the face's vertical axis (>= 0 when the lips do not cross)."""
    up = up_vector(lm)[..., None, :]
    d = lm[..., UPPER_INNER, :] - lm[..., LOWER_INNER, :]
    return (d * up).sum(-1).mean(-1)


def mouth_opening(lm: np.ndarray) -> np.ndarray:
    """Inner-lip gap divided by the inter-ocular distance: 0 closed, ~0.3-0.5 wide open; NaN-safe."""
    return mouth_gap(lm) / interocular(lm)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst, as 2x3 (Umeyama)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float((sig * np.diag(sign)).sum() / s.var(0).sum())
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points (..., 2)."""
    pts = np.asarray(pts, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def invert(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -(a @ m[:, 2])[:, None]])


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The affine `a after b` (apply b first)."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]])


def canonical(lm: np.ndarray) -> np.ndarray:
    """The 2x3 similarity taking a face to its canonical frame: eye midpoint at 0, eyes level, inter-ocular 1."""
    a, b = eye_centres(lm)
    mid, e = (a + b) / 2, b - a
    s = 1.0 / np.linalg.norm(e)
    c, n = e[0] * s, e[1] * s
    rot = np.array([[c, n], [-n, c]]) * s
    return np.hstack([rot, (-(rot @ mid))[:, None]])


def fill_gaps(track: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate runs of at most `max_gap` NaN frames between found frames.

    Returns the filled track (longer runs and the ends stay NaN) and a bool array of frames found
    by the detector (interpolated frames are False).
    """
    track = np.array(track, np.float32)
    found = ~np.isnan(track).reshape(len(track), -1).any(1)
    idx = np.nonzero(found)[0]
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= max_gap + 1 and not jumped(track[a], track[b]):  # never across a switch
            w = ((np.arange(a + 1, b) - a) / (b - a))[:, None, None]
            track[a + 1:b] = (1 - w) * track[a] + w * track[b]
    return track, found


def hold_gaps(lms: list) -> tuple[list, int]:
    """Frames without a face (None) take the nearest earlier face, the first ones the first face found; returns
    (filled, missing). The other gap policy beside `fill_gaps`: for a driving clip that must move on every frame."""
    found = [i for i, lm in enumerate(lms) if lm is not None]
    if not found:
        return lms, len(lms)
    out, last = [], lms[found[0]]
    for lm in lms:
        last = lm if lm is not None else last
        out.append(last)
    return out, len(lms) - len(found)


def pearson(a, b) -> float:
    """Pearson correlation over the entries where both are finite (NaN when fewer than 3 or constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def image_border(shape: tuple[int, int], per_side: int = 3) -> np.ndarray:
    """Fixed anchor points on an image's border (corners included), `per_side` intervals a side."""
    h, w = shape[:2]
    xs = np.linspace(0, w - 1, per_side + 1)
    ys = np.linspace(0, h - 1, per_side + 1)
    pts = [(x, 0) for x in xs] + [(x, h - 1) for x in xs] + [(0, y) for y in ys[1:-1]] + [(w - 1, y) for y in ys[1:-1]]
    return np.array(pts, np.float32)


def ring(lm: np.ndarray, scale: float, n: int, shape: tuple[int, int], margin: float = 2.0) -> np.ndarray:
    """`n` points on an ellipse around the face, `scale` times its landmark extent, kept inside the image."""
    h, w = shape[:2]
    centre = (lm.min(0) + lm.max(0)) / 2
    half = (lm.max(0) - lm.min(0)) / 2 * scale
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = centre + np.stack([np.cos(ang) * half[0], np.sin(ang) * half[1]], 1)
    pts[:, 0] = pts[:, 0].clip(margin, w - 1 - margin)
    pts[:, 1] = pts[:, 1].clip(margin, h - 1 - margin)
    return pts.astype(np.float32)


# Share of the jaw-opening displacement each point takes: the lower lip fully, the chin most, the jaw
# line less towards the ears, the mouth corners half (measured shape of an opening mouth, roughly).
OPEN_WEIGHTS = {55: 0.8, 56: 1.0, 57: 1.0, 58: 1.0, 59: 0.8, 65: 1.0, 66: 1.0, 67: 1.0, 48: 0.35, 54: 0.35,
                60: 0.4, 64: 0.4, 8: 0.75, 7: 0.7, 9: 0.7, 6: 0.55, 10: 0.55, 5: 0.4, 11: 0.4, 4: 0.2, 12: 0.2,
                3: 0.05, 13: 0.05}
UPPER_LIP = np.array([49, 50, 51, 52, 53, 61, 62, 63])


def open_mouth(lm: np.ndarray, amount: float, up_share: float = 0.15) -> np.ndarray:
    """Landmarks with the inner-lip gap widened by `amount` pixels (negative closes it).

    The lower lip and jaw take (1 - up_share) of the change, the upper lip `up_share`, along the face's
    vertical axis; the gap never goes below zero.
    """
    lm = np.array(lm, np.float32)
    amount = max(float(amount), -float(mouth_gap(lm)))
    up = up_vector(lm)
    down = -up * amount * (1 - up_share)
    for k, w in OPEN_WEIGHTS.items():
        lm[k] += w * down
    lm[UPPER_LIP] += up * amount * up_share
    return lm


def uncross_lips(lm: np.ndarray) -> np.ndarray:
    """Where a lower inner-lip point rose above its upper partner, put both at their midpoint."""
    lm = np.array(lm, np.float32)
    up = up_vector(lm)
    for u, d in zip(UPPER_INNER, LOWER_INNER):
        if float((lm[u] - lm[d]) @ up) < 0:
            lm[u] = lm[d] = (lm[u] + lm[d]) / 2
    return lm


MAX_YAW_GAP = 0.5  # two faces turned further apart (`yaw`) are not warped onto each other: the far one's hidden
# cheek, hair or hat would be stretched across the other's (a swap's smeared far eye, a morph's wedge at the temple)


def yaw(lm: np.ndarray) -> float:
    """Head turn from landmarks in [-1, 1]: nose tip offset between the jaw sides along the eye line (0 frontal)."""
    e = lm[45] - lm[36]
    e = e / (np.linalg.norm(e) + 1e-6)
    left, right = float((lm[30] - lm[2]) @ e), float((lm[14] - lm[30]) @ e)
    return (left - right) / (abs(left) + abs(right) + 1e-6)


# the 68 points' left-right partners (jaw, brows, nose base, eyes, lips; the midline maps to itself)
MIRROR = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                   45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
                   64, 63, 62, 61, 60, 67, 66, 65])


def mirrored(img: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image flipped left-right and its 68 landmarks with it, each point taking its partner's place, so the
    result is a face turned the other way (yaw negated) with the usual point order."""
    out = np.array(lm, np.float32)[MIRROR]
    out[:, 0] = img.shape[1] - 1 - out[:, 0]
    return np.ascontiguousarray(img[:, ::-1]), out


def source_face(src, seed, max_yaw: float) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(image, 68 landmarks, frame or None) of a source in a face role: a photo's face, or a video frame drawn
    by `seed` (an int or a numpy seed sequence) among those where its person's face is tracked and
    |yaw| <= max_yaw, so two samples with one source video use two expressions, not one still twice
    (near-duplicate fakes); the indexed still when no frame qualifies."""
    if src.item.kind != "video":
        return src.still(), np.array(src.item.landmarks, np.float32), None
    track = src.track()
    ok = [k for k, lm in enumerate(track) if not np.isnan(lm).any() and abs(yaw(lm)) <= max_yaw]
    if not ok:
        return src.still(), np.array(src.item.landmarks, np.float32), src.item.still_frame
    k = ok[int(np.random.default_rng(seed).integers(len(ok)))]
    return src.frame(k), track[k].astype(np.float32), k
