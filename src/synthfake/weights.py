"""Weights files: where a backend finds them, their sha256 (cached), and the check against published values.

A backend names its files by documented names (`WeightSpec`). Each is looked for in `--weights-dir`, then
`$SYNTHFAKE_WEIGHTS`, then `$XDG_CACHE_HOME/synthfake/weights` (`~/.cache` when unset); a missing file is one line naming the file, every
place looked and where to get it. A file's sha256 is cached by (path, size, mtime) in a small JSON file, so
a 20 GB pipeline is hashed once, and it is checked against a published value where one exists. A file that
differs from its published value is refused unless the run allows it (`gen run --allow-unverified`, carried by
the backend's Context); records then say so. The environment holds only the weights folder (a machine's path).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import machine_cache
from .errors import BackendNotReady, not_ready_reason
from .files import sha256_file, write_json_atomic

ENV_DIR = "SYNTHFAKE_WEIGHTS"
ALLOW_FLAG = "--allow-unverified"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".msgpack")


@dataclass(frozen=True)
class WeightSpec:
    """A documented weights file (or directory): its name, where to get it, its published sha256 if any.

    `url` is what a person is told and what `gen weights download` fetches: the file itself, or with `archive`
    set a zip holding it (checked against `archive_sha256`); `hub` names a Hugging Face repository whose
    snapshot is the folder `name` lies in (diffusers pipelines). `also` lists other published sha256 of the
    same model (another release of the very file) that are accepted as verified, with where each is stated."""

    name: str
    url: str
    sha256: str | None = None
    cite: str = ""  # where the published sha256 is stated
    archive: str | None = None  # the file is this member of the zip at `url`
    archive_sha256: str | None = None
    also: tuple[tuple[str, str], ...] = ()  # (sha256, where it is stated)
    hub: str | None = None  # Hugging Face repo id: `name`'s folder is a snapshot of it

    def published(self) -> dict[str, str]:
        """{sha256: where it is stated} of every value this file may match to count as verified."""
        return {**({self.sha256: self.cite} if self.sha256 else {}), **dict(self.also)}


@dataclass
class Resolved:
    """A weights file found on disk with its sha256; `verified` is None when no value is published."""

    spec: WeightSpec
    path: Path
    sha256: str
    verified: bool | None


def default_dir() -> Path:
    """The machine's cache folder (`machine_cache.root()`, which honours $XDG_CACHE_HOME), then weights/."""
    return machine_cache.root() / "weights"


def places(weights_dir: Path | str | None) -> list[tuple[str, Path | None]]:
    """The places looked in, in order, as (label, folder or None when not set)."""
    env = os.environ.get(ENV_DIR)
    return [("--weights-dir", Path(weights_dir).expanduser() if weights_dir else None),
            (f"${ENV_DIR}", Path(env).expanduser() if env else None),
            (f"the cache ({default_dir()})", default_dir())]


def locate(name: str, weights_dir: Path | str | None) -> Path | None:
    """The first existing `name` under the places (an absolute name is taken as is), or None."""
    if Path(name).expanduser().is_absolute():
        p = Path(name).expanduser()
        return p if p.exists() else None
    for _, folder in places(weights_dir):
        if folder is not None and (folder / name).exists():  # a folder where a file belongs: `check` says so
            return folder / name
    return None


def missing_message(spec: WeightSpec, weights_dir: Path | str | None) -> str:
    """One line: the file, every place looked (and why a place was skipped), where to get it."""
    if Path(spec.name).expanduser().is_absolute():
        looked = f"{spec.name} (absolute path)"
    else:
        looked = "; ".join(f"{label}: {folder / spec.name}" if folder else f"{label}: not set"
                           for label, folder in places(weights_dir))
    return (f"weights file {spec.name} not found (looked in {looked}); get it from {spec.url}, or run "
            f"`gen weights download` (sha256 checked)")


def require(spec: WeightSpec, weights_dir: Path | str | None) -> Path:
    path = locate(spec.name, weights_dir)
    if path is None:
        raise BackendNotReady(missing_message(spec, weights_dir))
    return path


# ---------------------------------------------------------------- sha256, cached by (path, size, mtime)
def cache_file() -> Path:
    return machine_cache.root() / "weights-sha256.json"


def _load_cache() -> dict:
    try:
        data = json.loads(cache_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def sha256(path: Path | str) -> str:
    """sha256 of a file, from the cache when its size and mtime are unchanged."""
    path = Path(path).resolve()
    st = path.stat()
    key = str(path)
    entry = _load_cache().get(key)
    if isinstance(entry, dict) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return str(entry["sha256"])
    digest = sha256_file(path)
    cache = {k: v for k, v in _load_cache().items() if os.path.exists(k)}  # re-read (other workers), drop gone files
    cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    try:
        write_json_atomic(cache_file(), cache)
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return digest


def implausible(path: Path, name: str | None = None) -> str | None:
    """Why a weights file cannot be what its name says (None: it may be), from a look at its first bytes and size:
    empty, a text or HTML page (a proxy's login page saved as the file), a safetensors file whose header does not
    match its size (truncated). Checked before the sha256, so a pinned file that is empty is said to be empty (not
    "differs from the published"), and `--allow-unverified` never admits one. `name`: the file's own name when
    `path` is a download's temporary one."""
    suffix = Path(name or path.name).suffix
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            header = fh.read(n) if suffix == ".safetensors" and 0 < n < 100_000_000 else b""
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if size == 0:
        return "is empty"
    if head.lstrip()[:1] in (b"<", b"{") and suffix != ".json":
        return "is a text page (HTML or JSON?), not model weights"
    if suffix == ".safetensors":
        try:
            end = max((t["data_offsets"][1] for k, t in json.loads(header).items() if k != "__metadata__"),
                      default=0)
        except (ValueError, KeyError, TypeError, AttributeError):
            return "has no safetensors header"
        if 8 + n + end != size:
            return f"holds {size} bytes where its safetensors header says {8 + n + end} (truncated?)"
    if suffix == ".onnx":
        return _protobuf_cut(path, size)
    return None


def _protobuf_cut(path: Path, size: int) -> str | None:
    """Why an .onnx file is not a whole protobuf message (None: it is): its top-level fields are walked by their
    tags and lengths (the graph is one field, skipped, not read), so a file cut short ends inside a field."""

    def varint(fh) -> int | None:
        value = shift = 0
        while (b := fh.read(1)) and shift < 70:
            value |= (b[0] & 0x7F) << shift
            if b[0] < 0x80:
                return value
            shift += 7
        return None  # the file ended inside the number

    cut = f"ends inside its last field ({size} bytes; truncated?)"
    with open(path, "rb") as fh:
        while (at := fh.tell()) < size:
            key = varint(fh)
            if key is None or key >> 3 == 0 or key & 7 not in (0, 1, 2, 5):
                return f"is not an ONNX file (no protobuf field at byte {at})"
            n = varint(fh) if key & 7 in (0, 2) else {1: 8, 5: 4}[key & 7]  # wire type 0: the value itself
            if n is None:
                return cut
            if key & 7 != 0:
                fh.seek(n, os.SEEK_CUR)
        return cut if fh.tell() != size else None


def check(spec: WeightSpec, path: Path, allow_unverified: bool = False) -> Resolved:
    """Hash `path` and compare with the published sha256; a mismatch is refused unless `allow_unverified`."""
    if Path(path).is_dir() and Path(spec.name).suffix in WEIGHT_SUFFIXES:  # `gen backends` had ended on its errno
        raise BackendNotReady(f"{path}: is a folder, not the weights file {spec.name}; get the file from {spec.url}")
    if why := implausible(Path(path)):  # pinned or not: an empty file or a Git LFS pointer is said as such, and
        raise BackendNotReady(f"{path}: {why}; get the file from {spec.url}")  # --allow-unverified takes no such
    digest = sha256(path)
    if spec.sha256 is None:
        return Resolved(spec, path, digest, None)
    if digest in spec.published():
        return Resolved(spec, path, digest, True)
    if not allow_unverified:
        raise BackendNotReady(f"{path}: sha256 {digest[:16]}... differs from the published {spec.sha256[:16]}... "
                              f"({spec.cite}); get the original from {spec.url}, or pass {ALLOW_FLAG} to use "
                              f"this file anyway (records then list it as unverified)")
    return Resolved(spec, path, digest, False)


def resolve(spec: WeightSpec, weights_dir: Path | str | None, allow_unverified: bool = False) -> Resolved:
    return check(spec, require(spec, weights_dir), allow_unverified)


def problem(specs: list[WeightSpec], weights_dir: Path | str | None, allow_unverified: bool = False) -> str | None:
    """None when every file is present and matches its published sha256 (or may differ), else the first reason."""
    return next(filter(None, (not_ready_reason(resolve, spec, weights_dir, allow_unverified) for spec in specs)),
                None)


def record(resolved: list[Resolved]) -> tuple[dict[str, str], list[str]]:
    """The record's {file name: sha256} and the names not verified: differing from their published sha256 (taken
    with --allow-unverified) or with none published to check against (as `gen weights download` and the README
    say they are recorded; they had been left out)."""
    return ({r.spec.name: r.sha256 for r in resolved}, [r.spec.name for r in resolved if r.verified is not True])


def directory_files(root: Path) -> list[Path]:
    """Every weights file under a model directory (safetensors, bin, onnx, ...), sorted by relative path."""
    return sorted((p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES),
                  key=lambda p: p.relative_to(root).as_posix())
