"""Weights-free face reenactment: a source face photo driven by a driving video of another person.

Per driving frame: its 68 landmarks are brought to a canonical frame by a similarity fit on rigid points;
the expression delta against the driving video's neutral frame (its first face, or the median shape)
moves the source's canonical landmarks; the driving head pose relative to the clip's first frame
(rotation, scale, translation, in face units) moves the source head. The source image is warped
piecewise-affinely (Delaunay over the landmarks and a ring around the head that moves rigidly); outside
the ring every pixel follows the head motion with a weight fading smoothly to zero (`background_map`), so
the output has no uncovered pixel and no tear where the head meets the body; and a mouth interior is painted
where the mouth opens wider than the source's. Output: the source's frame size at the driving fps and clip
length, with the driving clip's audio when it has one.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.generators.common import tps, warp
from synthfake import landmarks as lmk
from synthfake.errors import SampleFailed, require_one_of
from synthfake.generators import Context, Generated, source_face_at_most
from synthfake.writer import save_video

TYPE = "reenactment"
VERSION = "1.3"  # 1.1: background follows the head with a smooth falloff (no uncovered wedges, no tears)
# 1.2: textured mouth interior (warp.fill_mouth); 1.3: sliver triangles not drawn (`MAX_STRETCH`)
MAX_STRETCH = 8.0  # a head triangle whose output-to-source map stretches more is a sliver (warp.warp_region): 189
# of 330 frames of 8 reenactments of wild/reals had one (up to 18,949x), drawn as a dotted trail of strewn pixels
MAX_GAP = 5  # missed driving detections interpolated over at most this many frames
NEUTRALS = ("first", "median")  # the driving video's first face, or its median canonical shape



def _params(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"neutral": "first", "expression_scale": round(float(rng.uniform(0.95, 1.2)), 3),
            "pose_scale": round(float(rng.uniform(0.7, 1.0)), 3), "smooth_sigma": 1.0, "ring_scale": 1.9,
            "ring_points": 16, "falloff": 2.5, "teeth": warp.draw_teeth(rng),
            "max_frames": 300, "max_side": 512, "max_stretch": MAX_STRETCH}


def _scaled_motion(m: np.ndarray, k: float) -> np.ndarray:
    """A similarity with its rotation angle, log-scale and translation multiplied by k."""
    a, b = m[0, 0], m[1, 0]
    ang, scale = np.arctan2(b, a) * k, np.hypot(a, b) ** k
    c, s = np.cos(ang) * scale, np.sin(ang) * scale
    return np.array([[c, -s, m[0, 2] * k], [s, c, m[1, 2] * k]])


def drive(src_lm: np.ndarray, drv: np.ndarray, neutral: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Source landmarks per driving frame (T, 68, 2), and the rigid head motion per frame (T, 2, 3).

    The motion maps the source image's head at rest to its pose at frame t (for points off the face).
    """
    n_can = lmk.apply(lmk.canonical(neutral), neutral)
    to_src = lmk.similarity(n_can[lmk.RIGID], src_lm[lmk.RIGID])  # canonical -> source image
    s_can = lmk.apply(lmk.invert(to_src), src_lm)
    a0 = lmk.similarity(n_can[lmk.RIGID], drv[0][lmk.RIGID])
    out = np.zeros_like(drv)
    motion = np.zeros((len(drv), 2, 3))
    for t, d in enumerate(drv):
        a_t = lmk.similarity(n_can[lmk.RIGID], d[lmk.RIGID])
        expr = lmk.apply(lmk.invert(a_t), d) - n_can
        rel = _scaled_motion(lmk.compose(lmk.invert(a0), a_t), p["pose_scale"])
        pose = lmk.compose(to_src, rel)
        out[t] = lmk.uncross_lips(lmk.apply(pose, s_can + p["expression_scale"] * expr))
        motion[t] = lmk.compose(pose, lmk.invert(to_src))
    return out, motion


def neutral_shape(track: np.ndarray, found: np.ndarray, how: str) -> np.ndarray:
    """The driving video's expression at rest, in image coordinates (only its canonical shape is used)."""
    if how == "first":
        return track[int(np.argmax(found))]
    cans = np.stack([lmk.apply(lmk.canonical(lm), lm) for lm in track[found]])
    med = np.median(cans, 0)
    return lmk.apply(lmk.invert(lmk.canonical(track[found][0])), med)


def topology(src_lm: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Delaunay triangles over landmarks + extra points, built on a mouth-open copy of the landmarks so that
    the inner-lip polygon is triangulated on its own even when the source's lips touch."""
    opened = lmk.open_mouth(src_lm, 0.18 * float(lmk.interocular(src_lm)) - float(lmk.mouth_gap(src_lm)), 0.3)
    return warp.delaunay(np.vstack([opened, extra]))


def background_map(covered: np.ndarray, motion: np.ndarray, falloff: float,
                   still: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Backward map (output -> source x, y) for pixels outside the warped head: the head's rigid motion,
    fading smoothly to none over `falloff` pixels of distance from the head region. Every output pixel gets a
    source pixel (no uncovered wedge) and the map is continuous (the shoulders stretch, they do not tear).
    `still` (float, 1 free to move, 0 fixed) scales that motion further: a crop pasted back into a still photo
    must not move where it meets the photo."""
    h, w = covered.shape
    dist = cv2.distanceTransform((covered == 0).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(dist / max(falloff, 1.0), 0.0, 1.0)
    wgt = (1.0 - t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: 1 at the head, 0 far from it
    if still is not None:
        wgt *= still
    inv = lmk.invert(motion)
    gx = np.arange(w, dtype=np.float32)[None, :]
    gy = np.arange(h, dtype=np.float32)[:, None]
    return _blend_map(inv[0], gx, gy, gx, wgt), _blend_map(inv[1], gx, gy, gy, wgt)


def _blend_map(row: np.ndarray, gx: np.ndarray, gy: np.ndarray, g: np.ndarray, wgt: np.ndarray) -> np.ndarray:
    """g + wgt * (row . (x, y, 1) - g) as float32, computed in float64 in that order, in place."""
    m = row[0] * gx + row[1] * gy
    m += row[2]
    m -= g
    m *= wgt
    m += g
    return m.astype(np.float32)


def _head_box(pts: np.ndarray, shape) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of the frame that triangles on `pts` can cover, its corner on even pixels (so
    rounding vertices relative to it ties as on the frame), or the whole frame when none of it."""
    h, w = shape[:2]
    x0, y0 = (np.floor(pts.min(0)).astype(int) // 2 * 2).clip(0)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    x1, y1 = min(x1, w), min(y1, h)
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else (0, 0, w, h)


def ring_moved(ring: np.ndarray, motion: np.ndarray, still: np.ndarray | None) -> np.ndarray:
    """The ring under the head motion; with `still` (1 free, 0 fixed) each point moved as far along its way as the
    background map lets the pixel it lands on move (t = still(ring + t * move), by bisection), so the head and the
    background beside it take that pixel from one place: no seam along the ring."""
    moved = lmk.apply(motion, ring)
    if still is None:
        return moved
    move = moved - ring
    lo, hi = np.zeros(len(ring), np.float32), np.ones(len(ring), np.float32)
    for _ in range(20):
        t = (lo + hi) / 2
        at = (ring + t[:, None] * move).astype(np.float32)
        s = cv2.remap(still, at[None, :, 0], at[None, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
        lo, hi = np.where(s > t, t, lo), np.where(s > t, hi, t)
    return ring + ((lo + hi) / 2)[:, None] * move


def render(src: np.ndarray, src_pts: np.ndarray, tris: np.ndarray, out_lm: np.ndarray, motion: np.ndarray,
           ring: np.ndarray, falloff: float, src_gap: float, teeth: float,
           still: np.ndarray | None = None, max_stretch: float | None = None,
           spline: float | None = None) -> np.ndarray:
    """One output frame: the head (landmarks + ring) warped onto out_lm and the moved ring, the rest of the
    frame by the head motion fading out with distance (`background_map`), every pixel taken from src. With
    `still`, the ring moves only as far as the background beside it may (no seam where a ring point lies in the
    still zone); with `spline`, the band between face outline and ring is redrawn smooth (`tps.band_over`)."""
    dst = np.vstack([out_lm, ring_moved(ring, motion, still)])
    x0, y0, x1, y1 = _head_box(dst, src.shape)
    head, inside = warp.warp_region(src, src_pts, dst, tris, (x0, y0, x1, y1), max_stretch)
    if spline is not None:
        tps.band_over(head, inside, src, src_pts, dst, (x0, y0, x1, y1), spline)
    covered = np.zeros(src.shape[:2], np.uint8)
    covered[y0:y1, x0:x1] = inside
    mx, my = background_map(covered, motion, falloff, still)
    frame = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.copyto(frame[y0:y1, x0:x1], head, where=inside[..., None] > 0)
    gap = float(lmk.mouth_gap(out_lm))
    scale = float(np.sqrt(abs(np.linalg.det(motion[:, :2]))))
    if gap > 1.0 and gap > src_gap * scale + 1.0:
        frame = warp.fill_mouth(frame, out_lm, (gap - src_gap * scale) / gap, teeth)
    return frame


def source_render(src: np.ndarray, src_lm: np.ndarray, ring: np.ndarray, p: dict, still: np.ndarray | None = None):
    """`render` of one source still with what does not change between frames worked out once: a function of a
    frame's (landmarks, head motion) giving the frame."""
    tris = topology(src_lm, ring)
    src_pts = np.vstack([src_lm, ring])
    falloff = p["falloff"] * float(lmk.interocular(src_lm))
    src_gap = max(0.0, float(lmk.mouth_gap(src_lm)))
    return lambda out_lm, motion: render(src, src_pts, tris, out_lm, motion, ring, falloff, src_gap, p["teeth"], still,
                                         p.get("max_stretch"), p.get("spline"))


def driving_track(drv, start: int, n: int, p: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """(smoothed driving landmarks of the clip, the neutral shape, frames with a face)."""
    full, found = lmk.fill_gaps(drv.track(), MAX_GAP)
    if not found.any():
        raise SampleFailed(f"{drv.item.path}: no face tracked in the driving video")
    neutral = neutral_shape(full, found, p["neutral"])
    clip = full[start:start + n]
    valid = ~np.isnan(clip).reshape(len(clip), -1).any(1)
    if not valid.any():
        raise SampleFailed(f"{drv.item.path}: no face in driving frames {start}..{start + n - 1}")
    held, last = [], clip[int(np.argmax(valid))]
    for t in range(len(clip)):  # frames with no driving face hold the nearest earlier pose (not counted)
        last = clip[t] if valid[t] else last
        held.append(last)
    return np.stack(faces.smooth_landmarks(held, p["smooth_sigma"])), neutral, int(valid.sum())


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src = sources.role("source")
    drv = sources.role("driving")
    p = _params(sample.seed)
    p["neutral"] = sample.params.get("neutral", p["neutral"])
    require_one_of(p["neutral"], NEUTRALS, f"neutral {p['neutral']!r}: expected one of ", SampleFailed)
    img, src_lm = source_face_at_most(src, p)
    start = sample.params["clip_start"]
    n = min(sample.params["clip_frames"], p["max_frames"])
    smooth, neutral, with_face = driving_track(drv, start, n, p)
    n = len(smooth)
    out_lm, motion = drive(src_lm, smooth, neutral, p)
    ring = lmk.ring(src_lm, p["ring_scale"], p["ring_points"], img.shape)
    render_frame = source_render(img, src_lm, ring, p)
    frames = (render_frame(out_lm[t], motion[t]) for t in range(n))
    path, written = save_driven(out_stem, frames, drv, start, n, p)
    return Generated(path, p, written, with_face)


def save_driven(out_stem, frames, drv, start: int, n: int, p: dict):
    """Write the frames at the driving clip's fps with its audio over them (p["audio"] says whether it had any)."""
    fps = media.video_fps(drv.path)
    audio = media.read_audio_of_video(drv.path, start / fps, n / fps)
    p["audio"] = "driving" if audio is not None else "none"
    return save_video(out_stem, frames, fps, audio, expected=n, source=drv.item.path)
