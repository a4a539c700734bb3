"""Degradations: in-the-wild post-processing applied to every sample, real or fake, after generation.

A chain is a list of steps `{"op", "p", PARAM: [lo, hi] | [choice, ...] | value}`. Per sample, each step is
kept with probability `p` and its parameters are drawn from the sample's own generator, never from its label;
a real draws with its paired fake's key, so a pair is degraded alike. What was applied is recorded as
`degradations: [{op, params}]`, and `apply_chain` replays those exact parameters to the identical file.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from . import media
from .errors import SynthfakeError, require_one_of

INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
IMAGE_ONLY, VIDEO_ONLY = {"jpeg"}, {"h264", "fps"}

# Named chains that mimic where fakes are met. Documented in the README.
PRESETS: dict[str, list[dict]] = {
    # chat apps: strong downscale, low JPEG quality for photos, low-bitrate H.264, sometimes 25/30 fps
    "messenger": [{"op": "resize", "p": 1.0, "factor": [0.45, 0.75], "interp": ["area", "linear"]},
                  {"op": "jpeg", "p": 1.0, "quality": [50, 75]},
                  {"op": "fps", "p": 0.5, "fps": [25, 30]},
                  {"op": "h264", "p": 1.0, "crf": [28, 34], "preset": ["veryfast"]}],
    # feeds: moderate downscale, filter-like colour changes, medium JPEG / H.264
    "social": [{"op": "resize", "p": 0.8, "factor": [0.6, 1.0], "interp": ["area", "cubic"]},
               {"op": "color", "p": 0.5, "brightness": [-12, 12], "contrast": [0.9, 1.12],
                "saturation": [0.85, 1.2], "gamma": [0.9, 1.1]},
               {"op": "jpeg", "p": 1.0, "quality": [70, 92]},
               {"op": "h264", "p": 1.0, "crf": [23, 29], "preset": ["veryfast", "medium"]}],
    # TV / camera chain: sensor noise, slight softening, broadcast frame rates, high-quality encode
    "broadcast": [{"op": "noise", "p": 0.6, "sigma": [1.0, 3.0]},
                  {"op": "blur", "p": 0.5, "sigma": [0.3, 0.9]},
                  {"op": "fps", "p": 0.5, "fps": [25, 30]},
                  {"op": "jpeg", "p": 1.0, "quality": [85, 95]},
                  {"op": "h264", "p": 1.0, "crf": [18, 23], "preset": ["medium"]}],
}
KNOWN = {"jpeg": {"quality"}, "resize": {"factor", "interp"}, "blur": {"sigma"}, "noise": {"sigma"},
         "color": {"brightness", "contrast", "saturation", "gamma"}, "fps": {"fps"}, "h264": {"crf", "preset"}}
REQUIRED = {**KNOWN, "h264": set()}  # what an operation cannot run without (h264 has the writer's defaults)


NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"  # 2, .5, 1e-3: sigma=1e-3 read as "not a number" before 7 Dec


def parse_chain(text: str) -> list[dict]:
    """A preset name, or steps like 'jpeg:p=0.5,quality=60-90;resize:factor=0.5-1,interp=area|cubic'."""
    if text.strip() in PRESETS:  # ' social ' had been 'unknown operation social' beside its own name in the list
        return PRESETS[text.strip()]
    parts = [p.strip() for p in text.split(";")]
    if not any(parts) or "" in parts[:-1]:  # ';;', ' ', 'jpeg;;blur': an empty step is a typo, not "no change"
        raise SynthfakeError(f"--degrade {text!r}: an empty step; give a preset ({', '.join(PRESETS)}) or steps "
                             f"like 'jpeg:p=.5,quality=60-90;blur:sigma=0.3-1'")
    steps = []
    for part in filter(None, parts):
        op, _, args = part.partition(":")
        step: dict = {"op": op.strip(), "p": 1.0}
        given: set[str] = set()  # a key written twice in a step: refused (the last one had won)
        for kv in filter(None, args.split(",")):
            k, _, v = kv.partition("=")
            k, v = k.strip(), v.strip()
            if k in given:
                raise SynthfakeError(f"--degrade {text!r}: {op.strip()}: {k} given twice")
            given.add(k)
            rng = re.fullmatch(r"(-?[\d.]+)-(-?[\d.]+)", v)
            try:
                if k == "p":
                    step["p"] = float(v)
                elif rng:
                    step[k] = [float(rng[1]), float(rng[2])]
                elif "|" in v and k in BOUNDS and k not in CHOICE_KEYS:
                    raise SynthfakeError(f"--degrade {text!r}: {op.strip()}: {k}={v!r}: choices a|b are for "
                                         f"{', '.join(sorted(CHOICE_KEYS))}; give {k} a range lo-hi")
                elif "|" in v or not re.fullmatch(NUMBER, v):
                    step[k] = [float(x) if re.fullmatch(NUMBER, x) else x for x in v.split("|")]
                else:
                    step[k] = float(v)
            except ValueError:
                raise SynthfakeError(f"--degrade {text!r}: {op.strip()}: {k}={v!r} is not a number, a range "
                                     f"lo-hi or choices a|b") from None
        steps.append(step)
    validate_chain(steps, text)
    return steps


def validate_chain(steps: list[dict], text: str = "") -> None:
    for s in steps:
        require_one_of(s.get("op"), KNOWN, f"--degrade {text!r}: unknown operation {s.get('op')!r} (known: ",
                       suffix=f"; presets: {', '.join(PRESETS)})")
        extra = set(s) - KNOWN[s["op"]] - {"op", "p"}
        if extra:
            raise SynthfakeError(f"--degrade {text!r}: {s['op']}: unknown setting(s) {sorted(extra)} (known: "
                                 f"{', '.join(sorted(KNOWN[s['op']]))}, p)")
        if not (isinstance(s["p"], (int, float)) and 0 <= s["p"] <= 1):
            raise SynthfakeError(f"--degrade {text!r}: {s['op']}: p={s['p']!r} must be a probability from 0 to 1")
        missing = sorted(REQUIRED[s["op"]] - set(s))
        if missing:
            raise SynthfakeError(f"--degrade {text!r}: {s['op']} needs {', '.join(missing)} (e.g. "
                                 f"'{s['op']}:{','.join(f'{k}={EXAMPLE[k]}' for k in missing)}')")
        for key, spec in s.items():
            if key in ("op", "p"):
                continue
            _check_value(text, s["op"], key, spec)


# The values each parameter may take (lowest, highest); a range lo-hi must have lo <= hi inside these.
BOUNDS = {"quality": (1, 100), "factor": (0.01, 4.0), "sigma": (0.0, 50.0), "brightness": (-255, 255),
          "contrast": (0.0, 10.0), "saturation": (0.0, 10.0), "gamma": (0.05, 10.0), "fps": (1, 240),
          "crf": (0, 51)}
TEXT_CHOICES = {"interp": set(INTERP), "preset": {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                                  "slow", "slower", "veryslow"}}


def _check_value(text: str, op: str, key: str, spec) -> None:
    """A parameter's value, range or choices, checked before any sample is made (an inverted range, a JPEG
    quality of 0, an unknown interpolation)."""
    where = f"--degrade {text!r}: {op}: {key}"
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise SynthfakeError(f"{where}: no value")
    if key in TEXT_CHOICES:
        bad = [v for v in values if v not in TEXT_CHOICES[key]]
        if bad:
            raise SynthfakeError(f"{where}: {bad[0]!r} is not one of {', '.join(sorted(TEXT_CHOICES[key]))}")
        return
    if any(isinstance(v, str) or isinstance(v, bool) for v in values):
        raise SynthfakeError(f"{where}: {spec!r} is not a number or a range lo-hi")
    lo, hi = BOUNDS.get(key, (float("-inf"), float("inf")))
    if any(not lo <= v <= hi for v in values):
        raise SynthfakeError(f"{where}: {spec!r} is outside {lo:g}..{hi:g}")
    if isinstance(spec, list) and key not in CHOICE_KEYS and (len(spec) != 2 or spec[0] > spec[1]):
        raise SynthfakeError(f"{where}: range {spec!r} must be lo-hi with lo <= hi")


CHOICE_KEYS = {"fps", "interp", "preset"}  # a list under these keys is a set of choices, not a range
EXAMPLE = {"quality": "60-90", "factor": "0.5-1", "interp": "area|cubic", "sigma": "0.3-1", "brightness": "-10-10",
           "contrast": "0.9-1.1", "saturation": "0.9-1.1", "gamma": "0.9-1.1", "fps": "25|30"}


def _draw(key: str, spec, rng: np.random.Generator, integer: bool):
    if isinstance(spec, list) and (key in CHOICE_KEYS or (spec and isinstance(spec[0], str))):
        return spec[int(rng.integers(len(spec)))]
    if isinstance(spec, list):
        lo, hi = spec
        return int(rng.integers(int(lo), int(hi) + 1)) if integer else round(float(rng.uniform(lo, hi)), 4)
    return spec


def draw_chain(steps: list[dict], seed_key: list[int], kind: str) -> list[dict]:
    """The applied steps for one sample: kept by their probability, parameters drawn, kind-specific ops kept."""
    rng = np.random.default_rng(seed_key)
    out = []
    for s in steps:
        keep = rng.random() < s["p"]
        params = {k: _draw(k, v, rng, k in ("quality", "crf")) for k, v in s.items() if k not in ("op", "p")}
        if s["op"] == "noise":
            params["seed"] = int(rng.integers(2**31))
        if keep and not ((s["op"] in IMAGE_ONLY and kind != "image") or (s["op"] in VIDEO_ONLY and kind != "video")):
            out.append({"op": s["op"], "params": params})
    return out


def _frame_op(rgb: np.ndarray, op: str, p: dict, k: int) -> np.ndarray:
    if op == "resize":
        h, w = rgb.shape[:2]
        size = (max(2, round(w * p["factor"] / 2) * 2), max(2, round(h * p["factor"] / 2) * 2))
        return cv2.resize(rgb, size, interpolation=INTERP[p["interp"]])
    if op == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), p["sigma"])
    if op == "noise":
        rng = np.random.default_rng([p["seed"], k])
        return np.clip(rgb + rng.normal(0, p["sigma"], rgb.shape), 0, 255).astype(np.uint8)
    if op == "color":
        x = rgb.astype(np.float32)
        gray = x.mean(axis=2, keepdims=True)
        x = gray + (x - gray) * p["saturation"]
        x = (x - 128) * p["contrast"] + 128 + p["brightness"]
        x = 255 * (np.clip(x, 0, 255) / 255) ** p["gamma"]
        return np.clip(x + 0.5, 0, 255).astype(np.uint8)
    return rgb  # jpeg, fps, h264 act on the encoding, not the pixels


def _pixels(rgb: np.ndarray, chain: list[dict], k: int) -> np.ndarray:
    for step in chain:
        rgb = _frame_op(rgb, step["op"], step["params"], k)
    return rgb


def apply_chain(src: Path, out_stem: Path, chain: list[dict]) -> Path:
    """Write `src` through the applied chain; images end as JPEG when a jpeg step applies, else PNG."""
    params = {s["op"]: s["params"] for s in chain}
    if media.kind_of(src) == "image":
        rgb = _pixels(media.read_image(src), chain, 0)
        if "jpeg" in params:
            path = Path(f"{out_stem}.jpg")
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, int(params["jpeg"]["quality"])])
            path.write_bytes(buf.tobytes())
            return path
        return media.write_png(out_stem, rgb)
    fps_in = media.video_fps(src)
    fps_out = Fraction(params["fps"]["fps"]) if "fps" in params else fps_in
    info = media.probe(src)
    audio = media.read_audio_of_video(src, 0, info.duration + 1) if info.audio else None

    def frames():
        k_out = 0
        for i, rgb in enumerate(media.iter_frames(src)):
            while k_out * fps_in < (i + 1) * fps_out and k_out < round(info.frames * fps_out / fps_in):
                yield _pixels(rgb, chain, k_out)  # output frame k shows the source frame at its time
                k_out += 1

    enc = params.get("h264", {})
    path = Path(f"{out_stem}.mp4")
    media.write_video(path, frames(), fps_out, audio, crf=enc.get("crf"), preset=enc.get("preset"))
    return path
