"""What both samples of a pair go through last in the writer, so that their files share one history.

A backend declares `FINISH` (a dict) when its family's fakes need it; every sample of its pairs (the fake, and
the real drawn with it: a real's pair is the fake whose key it is degraded with) then ends the same way:
- `"image_jpeg": True`: an image ends as one JPEG encode at a quality drawn per pair (the plan's seed and the
  pair's key, JPEG_QUALITY). A decoded camera JPEG keeps its 8x8 grid; a face pasted in (or a whole image
  decoded by a network) has none, so without this a detector learns "no grid in the face" instead of the fake.
- `"audio_band_hz": F`: a clip's audio is band-limited to F Hz (resampled through 2F and back, as the
  backend's speech was), its fake and its real alike: a band-limited voice then says nothing of the label.
A real with no fake of its own (more reals than fakes) takes each finish that every fake backend of the plan able
to make its media declares alike (`unpaired`).
Backends without FINISH (every backend before these) are written as before, byte for byte. What was done is
recorded in the sample's params (`finish`).
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import cv2
import numpy as np

from . import media
from .dataset import Dataset
from .errors import MediaError
from .generators import Generated, get
from .media.remux import with_audio, written_audio
from .sample_spec import SALT_FINISH, SampleSpec, random_stream
from .shared_types import TYPE_INFO

JPEG_QUALITY = (80, 95)  # drawn per pair, both ends included: a camera's or a web page's usual range


def declared(ds: Dataset, spec: SampleSpec) -> dict:
    """The FINISH of the sample's pair: its own backend's (a fake), its fake's (a real), or, for a real without a
    fake, what every fake backend of the plan declares alike."""
    table = ds.table
    if spec.label == 1:
        return dict(getattr(get(spec.backend), "FINISH", {}))
    key = spec.degrade_key
    if key != spec.index and 0 <= key < table.total and table.type_of(key) != "real":
        return dict(getattr(get(table.backend(key)), "FINISH", {}))
    return unpaired(ds)


FINISH_MEDIA = {"image_jpeg": "image", "audio_band_hz": "video"}  # the media each finish applies to


def unpaired(ds: Dataset) -> dict:
    """The finish of a real without a fake: each key that every fake backend of the plan able to make its media
    declares alike. With the defaults every image-making backend ends its images with one JPEG, so an unpaired
    real photo does too (before reencode 1.1 it stayed PNG: a format and size that only reals had); only lip sync
    band-limits audio, so an unpaired real clip keeps its band, as reenactment and face swap clips do."""
    backends = [get(b) for b in sorted({b for t in ds.plan.ratios for b in ds.plan.mix(t)})]
    out = {}
    for key, kind in FINISH_MEDIA.items():
        values = [getattr(m, "FINISH", {}).get(key) for m in backends if kind in TYPE_INFO[m.TYPE].outputs]
        if values and values[0] is not None and values.count(values[0]) == len(values):
            out[key] = values[0]
    return out


def jpeg_quality(seed: int, key: int) -> int:
    lo, hi = JPEG_QUALITY
    return int(random_stream(seed, SALT_FINISH, key).integers(lo, hi + 1))


def encode_jpeg(path: Path, quality: int) -> Path:
    """The image at `path` re-encoded as JPEG beside it (same stem, .jpg); the original is removed."""
    rgb = media.read_image(path)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise MediaError(path, "JPEG encoding failed")
    out = path.with_suffix(".jpg")
    out.write_bytes(buf.tobytes())
    if out != path:
        path.unlink()
    return out


def band_limit(audio: tuple[np.ndarray, int], band_hz: int) -> tuple[np.ndarray, int]:
    """Audio resampled to 2 x band_hz and back to its rate (scipy's polyphase filter), as long as it was."""
    from scipy.signal import resample_poly

    data, rate = audio
    low = 2 * int(band_hz)
    if rate <= low:
        return data, rate
    g = gcd(low, int(rate))
    down = resample_poly(data, low // g, rate // g, axis=0)
    back = resample_poly(down, rate // g, low // g, axis=0)[:len(data)]
    if len(back) < len(data):
        back = np.concatenate([back, np.zeros((len(data) - len(back), data.shape[1]), back.dtype)])
    return np.clip(back, -1.0, 1.0).astype(np.float32), rate


def apply(ds: Dataset, spec: SampleSpec, out: Generated) -> None:
    """Finish what the backend wrote (out.path, changed in place when finished) as its pair's FINISH says."""
    finish = declared(ds, spec)
    done = {}
    if finish.get("image_jpeg") and media.kind_of(out.path) == "image":
        done["jpeg_quality"] = jpeg_quality(ds.plan.seed, spec.degrade_key)
        out.path = encode_jpeg(out.path, done["jpeg_quality"])
    if finish.get("audio_band_hz") and media.kind_of(out.path) == "video":
        audio = written_audio(out.path)
        if audio is not None:
            tmp = out.path.with_name(f"{out.path.stem}.band{out.path.suffix}")
            with_audio(out.path, tmp, band_limit(audio, finish["audio_band_hz"]))
            tmp.replace(out.path)
            done["audio_band_hz"] = int(finish["audio_band_hz"])
    if done:
        out.params = {**out.params, "finish": done}
