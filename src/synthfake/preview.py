"""`gen preview`: a contact sheet of a dataset that a person reads at a glance.

One row per (type, backend); each cell shows the sample (the middle frame of a video) beside the
sources it was made from (a face photo or still, the driving/target frame at the middle of the clip
used, or the waveform of the audio segment used), captioned with its id and split. Fakes have a red
frame, reals a green one. Source files are read from the sources root recorded in the dataset, or from
`sources_dir` when they have moved; a missing source is drawn as a grey tile that says so, a file that is there
but cannot be decoded as a grey tile that says 'unreadable', with one WARN line per such file on stderr (a
preview is a look, not a check: the exit code stays 0; `gen audit` is the check).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from . import media
from .errors import ManifestError, MediaError, SynthfakeError
from .files import file_state
from .dataset import Dataset
from .manifest import Record, iter_jsonl, part_files, resolve, source_file, why_invalid
from .shared_types import SAMPLE_TYPES
from .sources import SourceIndex

FAKE_RGB, REAL_RGB, SOURCE_RGB = (214, 40, 40), (40, 160, 70), (150, 150, 150)
BG, INK, GREY = (250, 250, 250), (20, 20, 20), (200, 200, 200)


@dataclass
class Tile:
    """One picture in a cell with its small label (role or 'fake'/'real')."""

    label: str
    image: np.ndarray
    frame: tuple[int, int, int]
    unreadable: tuple[Path, str] | None = None  # (file, why): there, but it could not be decoded


@dataclass
class Cell:
    record: Record
    tiles: list[Tile]


def group_records(records: list[Record], per_row: int) -> dict[tuple[str, str], list[Record]]:
    """Records by (type, backend), fake types first in the standard order, at most per_row each (by index)."""
    order = {t: k for k, t in enumerate(SAMPLE_TYPES)}
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in sorted(records, key=lambda r: (order[r.type], r.backend, r.index)):
        groups.setdefault((r.type, r.backend), []).append(r)
    return {k: v[:per_row] for k, v in groups.items()}


def middle_frame(path: Path, frames: int, start: int = 0) -> np.ndarray:
    """The image itself, or the frame at the middle of [start, start + frames) of a video."""
    if media.kind_of(path) == "image":
        return media.read_image(path)
    return media.read_frames(path, start + max(frames, 1) // 2, 1)[0]


def waveform(data: np.ndarray, size: int) -> np.ndarray:
    """A square strip of the audio's min/max envelope, one column per pixel."""
    img = np.full((size, size, 3), 245, np.uint8)
    mono = data.mean(1) if data.ndim == 2 else data
    if len(mono) == 0:
        return img
    cols = np.array_split(mono, size)
    peak = max(float(np.abs(mono).max()), 1e-6)
    mid = size // 2
    for x, c in enumerate(cols):
        if len(c):
            lo, hi = int(mid - c.max() / peak * (mid - 2)), int(mid - c.min() / peak * (mid - 2))
            img[lo:hi + 1, x] = (40, 90, 200)
    img[mid, :] = (120, 120, 120)
    return img


# How each file read for the sheet went, by (path, size, mtime_ns): None (decoded) or why it could not be; the page
# of the same `gen preview` (preview_html) captions those files from here instead of decoding them again.
_READS: dict[tuple[str, int, int], str | None] = {}


def _key(path: Path) -> tuple[str, int, int] | None:
    return None if (state := file_state(path)) is None else (str(path), *state)


def why_not(path: Path, e: Exception) -> str:
    """The reason of a read error without the path the message starts with."""
    if isinstance(e, OSError) and not isinstance(e, MediaError):
        return e.strerror or type(e).__name__
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text.removeprefix(f"{path}: ").strip() or type(e).__name__


def read_noted(path: Path, read: Callable[[], object]):
    """read(), its outcome noted for `path` (a file that is there but fails to decode: its reason)."""
    try:
        got = read()
    except (MediaError, OSError) as e:
        if (key := _key(path)) is not None and path.is_file():
            _READS[key] = why_not(path, e)
        raise
    if (key := _key(path)) is not None:
        _READS.setdefault(key, None)
    return got


def problem(path: Path) -> str | None:
    """'missing', 'unreadable: REASON' or None for one file the page links: the sheet's read of it when it made
    one, else one decode (the image, the audio, a video's first frame)."""
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "unreadable: not a file"
    key = _key(path)
    if key not in _READS:
        kind = media.kind_of(path)
        reader = {"audio": lambda: media.read_audio(path), "video": lambda: media.read_frames(path, 0, 1)}.get(
            kind, lambda: media.read_image(path))
        try:
            read_noted(path, reader)
        except (MediaError, OSError):
            pass
    why = _READS.get(key)
    return None if why is None else f"unreadable: {why}"


def _unreadable(path: Path, e: Exception, size: int, label: str, frame) -> Tile:
    """The grey tile of a file that is not there ('missing') or is there but cannot be decoded ('unreadable')."""
    if not path.exists():
        return Tile(label, _missing(size, "missing"), frame)
    return Tile(label, _missing(size, "unreadable"), frame, (path, why_not(path, e)))


def _missing(size: int, text: str) -> np.ndarray:
    img = Image.new("RGB", (size, size), GREY)
    ImageDraw.Draw(img).text((6, size // 2 - 8), text, fill=INK, font=_font(11))
    return np.asarray(img)


def audio_span(record: Record) -> tuple[float, float] | None:
    """(start, seconds) of the speech a lip-sync sample used: mouth_sync records its length, crop_sync's equals
    the clip's (the fake's own duration); None when the sample used no audio segment."""
    p = record.params
    if "audio_offset_s" not in p:
        return None
    return p["audio_offset_s"], p.get("audio_seconds", record.media.duration)


def source_tile(root: Path, index: SourceIndex | None, record: Record, ref, size: int) -> Tile:
    """The picture of one source as this sample used it."""
    p = record.params
    try:
        path = source_file(root, ref)
    except ManifestError:
        return Tile(ref.role, _missing(size, "outside root"), SOURCE_RGB)
    try:
        kind = media.kind_of(path)
        if kind == "audio":
            data, rate = read_noted(path, lambda: media.read_audio(path))
            start, seconds = audio_span(record) or (0.0, len(data) / rate)
            s0 = int(start * rate)
            return Tile(ref.role, waveform(data[s0:s0 + int(seconds * rate)], size), SOURCE_RGB)
        if kind == "video" and "clip_start" in p and ref.role in ("target", "driving", "real"):
            return Tile(ref.role, read_noted(path, lambda: middle_frame(path, p["clip_frames"], p["clip_start"])),
                        SOURCE_RGB)
        if kind == "video":
            still = next((it.still_frame for it in index.items if it.path == ref.path), 0) if index else 0
            return Tile(ref.role, read_noted(path, lambda: media.read_frames(path, still, 1)[0]), SOURCE_RGB)
        return Tile(ref.role, read_noted(path, lambda: media.read_image(path)), SOURCE_RGB)
    except (MediaError, OSError) as e:
        return _unreadable(path, e, size, ref.role, SOURCE_RGB)


def cell_for(ds: Path, root: Path, index: SourceIndex | None, record: Record, size: int) -> Cell:
    """The sample beside its sources (a real's one source is the sample itself: not repeated)."""
    frame, label = (REAL_RGB, "real") if record.label == 0 else (FAKE_RGB, "fake")
    try:
        path = resolve(ds, record)
    except ManifestError:
        path, tile = None, Tile(label, _missing(size, "outside root"), frame)
    if path is not None:
        try:
            tile = Tile(label, read_noted(path, lambda: middle_frame(path, record.media.frames)), frame)
        except (MediaError, OSError) as e:
            tile = _unreadable(path, e, size, label, frame)
            tile.image = _missing(size, "media missing" if tile.unreadable is None else "media unreadable")
    tiles = [tile]
    before = ds / "cache" / "pristine" / f"{record.id}.png"  # kept by the runner when a chain applies
    if record.degradations and before.exists():
        tiles[0].label += " (after " + "+".join(d["op"] for d in record.degradations) + ")"
        try:
            tiles.append(Tile("before", read_noted(before, lambda: media.read_image(before)), SOURCE_RGB))
        except (MediaError, OSError) as e:
            tiles.append(_unreadable(before, e, size, "before", SOURCE_RGB))
    if record.label == 1:
        tiles += [source_tile(root, index, record, ref, size) for ref in record.sources]
    return Cell(record, tiles)


def _font(size: int):
    return ImageFont.load_default(size=size)


def _fit(img: np.ndarray, size: int) -> Image.Image:
    """Letterbox an RGB array into a size x size tile."""
    h, w = img.shape[:2]
    k = size / max(h, w)
    small = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    tile = Image.new("RGB", (size, size), (30, 30, 30))
    tile.paste(Image.fromarray(small), ((size - small.shape[1]) // 2, (size - small.shape[0]) // 2))
    return tile


def draw_sheet(rows: dict[tuple[str, str], list[Cell]], title: str, tile: int = 160) -> Image.Image:
    """Lay the cells out: a label column, then one row per group."""
    pad, label_w, cap_h, head_h, role_h = 8, 150, 18, 30, 14
    slots = max((len(c.tiles) for cells in rows.values() for c in cells), default=1)
    per_row = max((len(cells) for cells in rows.values()), default=1)
    cell_w = slots * (tile + 4) + pad
    row_h = role_h + tile + cap_h + pad
    sheet = Image.new("RGB", (label_w + per_row * cell_w + pad, head_h + max(1, len(rows)) * row_h + pad), BG)
    d = ImageDraw.Draw(sheet)
    d.text((pad, 6), title, fill=INK, font=_font(15))
    for r, ((typ, backend), cells) in enumerate(rows.items()):
        y = head_h + r * row_h
        d.text((pad, y + role_h + tile // 2 - 16), typ, fill=INK, font=_font(14))
        d.text((pad, y + role_h + tile // 2 + 2), backend, fill=(90, 90, 90), font=_font(12))
        for c, cell in enumerate(cells):
            x = label_w + c * cell_w
            for k, t in enumerate(cell.tiles):
                tx = x + k * (tile + 4)
                d.text((tx + 2, y), t.label, fill=t.frame if t.frame != SOURCE_RGB else (90, 90, 90), font=_font(11))
                sheet.paste(_fit(t.image, tile), (tx, y + role_h))
                d.rectangle((tx - 1, y + role_h - 1, tx + tile, y + role_h + tile), outline=t.frame, width=2)
            d.text((x, y + role_h + tile + 3), f"{cell.record.id[:10]}  {cell.record.split}", fill=INK, font=_font(12))
    return sheet


def load(dataset: str | Path, sources_dir: str | Path | None,
         warn: Callable[[str], None] | None = None) -> tuple[Path, Path, SourceIndex | None, list[Record]]:
    """The dataset's records (each index's first; a line that is not a valid record, such as one whose path leaves
    the dataset, said through `warn` and not drawn), its sources root (or sources_dir) and its sources index."""
    warn = warn or _warn
    opened = Dataset.open(dataset)
    ds, index = opened.root, opened.index
    records, seen = [], set()
    for part in part_files(ds / "manifest"):
        for no, item, torn in iter_jsonl(part, Record):
            if isinstance(item, ValidationError):
                if not torn:  # a live writer's unfinished line is not a record yet
                    warn(f"manifest/{part.name}:{no}: not drawn: invalid record ({why_invalid(item)})")
            elif item.index not in seen:
                seen.add(item.index)
                records.append(item)
    if not records:
        raise SynthfakeError(f"{ds}: no records yet; run `gen run` first")
    return ds, Path(sources_dir) if sources_dir else Path(index.root), index, records


def _warn(line: str) -> None:
    print(f"WARN: {line}", file=sys.stderr, flush=True)


SHOWN = 5  # unreadable files named one a line; past that, a count


def unreadable_lines(rows: dict[tuple[str, str], list[Cell]]) -> list[str]:
    """One line per file drawn 'unreadable' (each file once), at most SHOWN, then one line counting the rest."""
    bad = {t.unreadable[0]: t.unreadable[1] for cells in rows.values() for c in cells for t in c.tiles
           if t.unreadable}
    lines = [f"{path}: unreadable ({why}); drawn as 'unreadable'" for path, why in list(bad.items())[:SHOWN]]
    if len(bad) > SHOWN:
        lines.append(f"{len(bad) - SHOWN} more unreadable file(s) drawn as 'unreadable' ({len(bad)} in all)")
    return lines


def preview(dataset: str | Path, out: str | Path, per_row: int = 4, tile: int = 160,
            sources_dir: str | Path | None = None,
            warn: Callable[[str], None] | None = None) -> dict[tuple[str, str], list[Cell]]:
    """Write the contact sheet PNG to `out`; returns the cells drawn, by (type, backend). Each file that is there
    but cannot be decoded is said in one line to `warn` (else 'WARN: ...' on stderr); the sheet is still written."""
    warn = warn or _warn
    ds, root, index, records = load(dataset, sources_dir, warn)
    rows = {k: [cell_for(ds, root, index, r, tile) for r in rs] for k, rs in group_records(records, per_row).items()}
    for line in unreadable_lines(rows):
        warn(line)
    n = len(records)
    img = draw_sheet(rows, f"{ds.resolve().name}: {n} samples, {sum(r.label for r in records)} fake, "
                           f"{n - sum(r.label for r in records)} real (first {per_row} per type and backend)", tile)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, format="PNG")
    return rows
