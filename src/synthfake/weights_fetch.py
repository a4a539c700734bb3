"""`gen weights download`: a backend's model files fetched from their documented source, resumed and checked.

A file is downloaded to `NAME.part` in the weights folder; an interrupted download is resumed from there with
an HTTP Range request. Its sha256 is compared with the pinned value (`WeightSpec.published`) before it is
renamed onto NAME, so a file in the weights folder is whole and, where a value is published, the published
one; a file whose hash differs is removed with one line. A file without a published value is kept and
recorded as unverified, as `gen run` records it. A file shipped inside a zip (insightface's buffalo_l) is taken
out of the archive once the archive's own sha256 matched. A diffusers pipeline (`WeightSpec.hub`) is a
snapshot of its Hugging Face repository (huggingface_hub, which resumes and shows its own bars); each of its
LFS files is checked against the sha256 the hub states for it. Nothing is fetched that is already in place.
"""

from __future__ import annotations

import http.client
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from . import weights
from .errors import SynthfakeError
from .files import commit_file, sha256_file
from .progress import BYTES, sample_progress
from .weights import WeightSpec

CHUNK = 1 << 20
TIMEOUT = 30.0  # seconds without a byte before a download counts as interrupted


class FetchFailed(Exception):
    """One file could not be fetched; the message is one line. `offline`: no connection to its host at all."""

    def __init__(self, line: str, offline: bool = False):
        super().__init__(line)
        self.offline = offline


@dataclass
class Fetched:
    """A file in place: where, how it got there (downloaded / present), its sha256, whether it is verified."""

    name: str
    path: Path
    how: str
    sha256: str
    verified: bool | None  # None: no published sha256

    def line(self) -> str:
        state = {True: "sha256 matches the published value", False: "sha256 differs",
                 None: "no published sha256: recorded as unverified"}[self.verified]
        return f"{self.how} {self.path} ({state})"


def target_place(weights_dir: Path | str | None) -> tuple[str, Path]:
    """(label, folder) of where downloads go: the first weights place that is set (--weights-dir,
    $SYNTHFAKE_WEIGHTS, the cache)."""
    return next((label, folder) for label, folder in weights.places(weights_dir) if folder is not None)


def target_dir(weights_dir: Path | str | None) -> Path:
    """Where downloads go: the first weights place that is set (--weights-dir, $SYNTHFAKE_WEIGHTS, the cache)."""
    return target_place(weights_dir)[1]


def not_a_folder(folder: Path) -> str | None:
    """Why `folder` cannot be (or become) a folder: it, or the first of its parents that exists, is a file; None
    when it is a folder or can be made one."""
    for p in (folder, *folder.parents):
        if p.exists():
            if p.is_dir():
                return None
            return "is a file, not a folder" if p == folder else f"{p} is a file, not a folder"
    return None


def check_mirror(mirror: str) -> None:
    """`--mirror`: http(s)://host[:port][/path] or file:///folder, else one line (a bad one had ended in a
    traceback, or in 'cannot reach ... offline?' with exit 3)."""
    try:
        u = urlparse(mirror)
        port_ok = u.port is None or 0 < u.port < 65536
    except ValueError:
        u, port_ok = None, False
    web = u is not None and u.scheme in ("http", "https") and bool(u.hostname) and port_ok
    local = u is not None and u.scheme == "file" and not u.netloc and bool(u.path)
    if not (web or local):
        raise SynthfakeError(f"--mirror {mirror}: expected http(s)://host[:port][/path] or file:///folder")
    if local and not Path(u.path).is_dir():
        raise SynthfakeError(f"--mirror {mirror}: {u.path} is not a folder")


def source_url(url: str, mirror: str | None) -> str:
    """`url`, or the same file name under `mirror` (an internal copy of the public files)."""
    return url if not mirror else f"{mirror.rstrip('/')}/{Path(urlparse(url).path).name}"


def http_fetch(url: str, part: Path, show: bool = False) -> None:
    """Append `url`'s bytes to `part`, resuming from its size with a Range request; a server that ignores the
    range sends the whole file, which then replaces the part. FetchFailed on any error, the part kept."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "synthfake-weights"} | ({"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urlopen(Request(url, headers=headers), timeout=TIMEOUT)
    except HTTPError as e:
        if e.code == 416 and have:  # the part already holds every byte: the hash check decides
            return
        raise FetchFailed(f"{url}: HTTP {e.code} {e.reason}") from None
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchFailed(f"cannot reach {urlparse(url).netloc} ({reason}): offline? "
                          f"Copy the file into the weights folder by hand, or pass --mirror", offline=True) from None
    with resp:
        resumed = resp.status == 206
        start = have if resumed else 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        done = start
        try:
            with open(part, "ab" if resumed else "wb") as fh, \
                    sample_progress(total or 0, part.name.removesuffix(".part"), show, unit=BYTES) as advance:
                advance(start)
                while block := resp.read(CHUNK):
                    fh.write(block)
                    done += len(block)
                    advance(len(block))
        except (OSError, http.client.HTTPException) as e:
            raise FetchFailed(f"{url}: interrupted at {done} of {total or '?'} bytes ({type(e).__name__}); "
                              f"run the command again to resume") from None
    if total is not None and done < total:
        raise FetchFailed(f"{url}: interrupted at {done} of {total} bytes (connection closed); run the command "
                          f"again to resume")


def _check(path: Path, published: dict[str, str], what: str, url: str) -> tuple[str, bool | None]:
    """(sha256, verified); a file whose sha256 is not a published one is removed and FetchFailed raised."""
    digest = sha256_file(path)
    if not published:
        if why := weights.implausible(path, what):  # `what`: the file's own name (a download is NAME.part)
            path.unlink(missing_ok=True)
            raise FetchFailed(f"{what}: the file from {url} {why}; the download was removed")
        return digest, None
    if digest in published:
        return digest, True
    path.unlink(missing_ok=True)
    pinned, cite = next(iter(published.items()))
    raise FetchFailed(f"{what}: sha256 {digest[:16]}... of {url} differs from the pinned {pinned[:16]}... "
                      f"({cite}); the download was removed")


def _unzip(archive: Path, member: str, part: Path) -> None:
    with zipfile.ZipFile(archive) as z:
        name = next((n for n in z.namelist() if Path(n).name == member), None)
        if name is None:
            raise FetchFailed(f"{archive.name}: holds no {member}")
        with z.open(name) as src, open(part, "wb") as dst:
            while block := src.read(CHUNK):
                dst.write(block)


def fetch_file(spec: WeightSpec, folder: Path, mirror: str | None = None, show: bool = True) -> Fetched:
    """Put `spec`'s file into `folder` (resumed, checked, renamed); a file already there is checked, not fetched."""
    final = folder / spec.name
    if final.exists():
        if why := weights.implausible(final):  # as `gen backends` says of it: not called "present" and fine
            raise FetchFailed(f"{final}: present, but it {why}; remove it and run again")
        digest = weights.sha256(final)
        published = spec.published()
        if published and digest not in published:
            raise FetchFailed(f"{final}: present, but its sha256 {digest[:16]}... differs from the pinned "
                              f"{spec.sha256[:16]}... ({spec.cite}); remove it and run again")
        return Fetched(spec.name, final, "present", digest, True if published else None)
    folder.mkdir(parents=True, exist_ok=True)
    url = source_url(spec.url, mirror)
    part = final.with_name(final.name + ".part")
    if spec.archive:
        zpart = folder / f"{Path(urlparse(url).path).name}.part"
        http_fetch(url, zpart, show)
        _check(zpart, {spec.archive_sha256: spec.cite} if spec.archive_sha256 else {}, zpart.name, url)
        _unzip(zpart, spec.archive, part)
        zpart.unlink()
    else:
        http_fetch(url, part, show)
    digest, verified = _check(part, spec.published(), spec.name, url)
    commit_file(part, final)
    return Fetched(spec.name, final, "downloaded", digest, verified)


NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3")  # the hub's clients


def _network_error(e: Exception) -> bool:
    """An error of the connection, whichever HTTP client huggingface_hub runs on: requests' are OSErrors, httpx's
    (huggingface_hub >= 1.0) are not, and a traceback was all an offline `gen weights download` printed."""
    return isinstance(e, (OSError, ValueError)) or type(e).__module__.split(".")[0] in NETWORK_MODULES


def fetch_hub(spec: WeightSpec, folder: Path, show: bool = True) -> Fetched:
    """A diffusers pipeline folder as a snapshot of `spec.hub` (its diffusers files only: the single-file
    checkpoints at the repository root are left out), each LFS file checked against the hub's sha256."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    local = folder / Path(spec.name).parent
    try:
        info = HfApi().model_info(spec.hub, files_metadata=True)
        files = [s for s in info.siblings if "/" in s.rfilename or s.rfilename == "model_index.json"]
        snapshot_download(spec.hub, revision=info.sha, local_dir=local, allow_patterns=[s.rfilename for s in files])
    except GatedRepoError:
        raise FetchFailed(f"{spec.hub}: gated; accept its licence on huggingface.co and log in "
                          f"(`huggingface-cli login`), then run again") from None
    except HfHubHTTPError as e:
        raise FetchFailed(f"{spec.hub}: {str(e).splitlines()[0]}") from None
    except Exception as e:
        if not _network_error(e):
            raise
        raise FetchFailed(f"cannot reach huggingface.co ({type(e).__name__}): offline?", offline=True) from None
    try:
        for s in files:
            if s.lfs is not None:
                _check(local / s.rfilename, {s.lfs.sha256: f"{spec.hub}@{info.sha[:10]} LFS pointer"}, s.rfilename,
                       f"{spec.hub}@{info.sha}")
    except FetchFailed:
        (folder / spec.name).unlink(missing_ok=True)  # the folder is not a pipeline until every file matches
        raise
    return Fetched(spec.name, local, "downloaded", info.sha, True)


def fetch(spec: WeightSpec, folder: Path, mirror: str | None = None, show: bool = True) -> Fetched:
    """One weights file (or pipeline folder) into `folder`."""
    if spec.hub:  # a hub mirror is huggingface_hub's own setting: $HF_ENDPOINT
        if (folder / spec.name).exists():
            return Fetched(spec.name, (folder / spec.name).parent, "present", "", None)
        return fetch_hub(spec, folder, show)
    return fetch_file(spec, folder, mirror, show)


