"""Which software wrote a shard's samples, kept beside its manifest part (`manifest/part-R-of-W.software.json`).

A plan and a seed give the same bytes only under the same encoder, decoder, resampler and numerics: FFmpeg and
the x264 it bundles (PyAV's version names that build), OpenCV, numpy, Pillow's libjpeg, dlib's landmarks. A record
says which backend version made a sample, not which libraries did, so a rerun elsewhere that differs in bytes
could not say why. The file holds every set a part was written under, each from its date; a resume under another
set says what changed, once.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

from .errors import SynthfakeError
from .files import read_json, write_json_atomic
from .writer import now as utc_now


UNRECORDED = "the samples this part held before synthfake noted its software"


def installed(dist: str) -> str:
    """An installed distribution's version ("" when it is not installed, as in a bare source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return ""


def current() -> dict[str, str]:
    """The versions that decide a sample's bytes, as this process has them."""
    import av
    import cv2
    import dlib
    import numpy
    import PIL
    import soundfile
    from PIL import features

    return {"synthfake": installed("synthfake"), "python": platform.python_version(), "numpy": numpy.__version__,
            "av": av.__version__, "ffmpeg": str(getattr(av, "ffmpeg_version_info", "")),
            "libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
            "libswscale": ".".join(map(str, av.library_versions.get("libswscale", ()))),
            "opencv": cv2.__version__, "pillow": PIL.__version__, "libjpeg": str(features.version("jpg") or ""),
            "dlib": dlib.__version__, "libsndfile": str(soundfile.__libsndfile_version__)}


def path_for(manifest_file: Path) -> Path:
    """The software file of a manifest part: part-00000-of-00002.jsonl -> part-00000-of-00002.software.json."""
    return manifest_file.with_name(manifest_file.name.removesuffix(".jsonl") + ".software.json")


def changed(before: dict, now: dict) -> list[str]:
    """'name old -> new' for each version that differs (a name only one side has counts)."""
    keys = [k for k in now if k != "since"] + [k for k in before if k not in now and k != "since"]
    return [f"{k} {before.get(k, '-')} -> {now.get(k, '-')}" for k in keys if before.get(k) != now.get(k)]


def note(manifest_file: Path, say: Callable[[str], None]) -> None:
    """Record the running software for a part about to take samples: the first set, or a new one after a change
    (said in one line). A software file that cannot be read stops the shard before it writes: its history is not
    overwritten."""
    path, now = path_for(manifest_file), current()
    sets = read_json(path) if path.exists() else []
    if not isinstance(sets, list) or not all(isinstance(s, dict) for s in sets):
        raise SynthfakeError(f"{path}: not a list of software sets; move it aside to start a new one")
    if not sets and manifest_file.exists() and manifest_file.stat().st_size:
        sets = [{"unrecorded": UNRECORDED}]  # a part begun before synthfake noted its software
    elif sets:
        diff = changed(sets[-1], now)
        if not diff:
            return
        say(f"{manifest_file.name}: its earlier samples were written with other software ({'; '.join(diff)}); "
            "a rerun of them here may not give their bytes")
    write_json_atomic(path, sets + [{**now, "since": utc_now()}])


def sets_of(dataset: Path) -> list[dict[str, str]]:
    """The distinct software sets the dataset's parts were written under, in the order first met (part name, then
    date); an unreadable software file is passed over (this is a report, not the run's guard)."""
    out: list[dict[str, str]] = []
    for path in sorted((Path(dataset) / "manifest").glob("part-*.software.json")):
        try:
            sets = read_json(path)
        except SynthfakeError:
            continue
        for s in sets if isinstance(sets, list) else []:
            plain = {k: v for k, v in s.items() if k != "since"} if isinstance(s, dict) else None
            if plain and plain not in out:
                out.append(plain)
    return out
