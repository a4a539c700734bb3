"""A sample's source files as generators see them (a role each, the indexed faces) and the cached landmark track
of a video's person, kept per file in the dataset and on this machine."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import faces, machine_cache, media
from . import landmarks as lmk
from .errors import SynthfakeError
from .files import canonical_hash, write_npy_atomic
from .progress import PlainProgress
from .sources import SourceItem, machine_kind

LONG_TRACK = 1500  # frames (a minute at 25 fps) from which tracking a video is said before it starts
TRACK_FPS = 20  # frames a second tracked on one core here (480 px; ~0.045 s a frame, the sweep's 2 min clip)
TRACK_VERSION = 4  # of `faces.track`'s output for a video and reference (machine cache key; 2: square pixels; 3: SDR;
# 4: a wider look where a frame over 720 px shows no face at 360 px)


def _told(frames_in, frames: int, name: str):
    """The frames of a video, with a plain progress line every 30 s while a long one (LONG_TRACK) is tracked:
    a 10 min clip took 8 min with no word after the first line (plain lines: a rich bar may be live already)."""
    if frames < LONG_TRACK:
        yield from frames_in
        return
    with PlainProgress() as prog:
        task = prog.add_task(f"tracking {name}", total=frames, unit="frames")
        for frame in frames_in:
            yield frame
            prog.advance(task)


@dataclass
class Source:
    """A source file in one role of one sample, with cached faces."""

    item: SourceItem
    path: Path  # absolute
    role: str
    cache_dir: Path
    wears_glasses: bool = False  # the person wears glasses in any of their files (`glasses_identities`)

    def still(self) -> np.ndarray:
        """The photo, or the indexed still frame of a video (the frame with its largest face)."""
        if self.item.kind == "image":
            return media.read_image(self.path)
        return self.frame(self.item.still_frame)

    def frame(self, k: int) -> np.ndarray:
        """Frame k of the video (RGB)."""
        return media.read_frames(self.path, k, 1)[0]

    def still_face(self) -> faces.Face:
        return faces.Face(tuple(self.item.box), np.array(self.item.landmarks, np.float32))

    def track(self) -> np.ndarray:
        """Per-frame 68 landmarks of this file's own person, (frames, 68, 2), NaN where absent; cached on disk."""
        return video_track(self.path, self.item.sha256, self.cache_dir, self.item.embedding, self.item.frames)

    def closed_mouth_still(self, max_gap: float, min_size: float = 0.9, least_size: float = 0.7) -> int:
        """The tracked frame nearest the indexed still whose lips are closed (inner gap at most `max_gap` face
        units) and whose face is at least `min_size` of the still's: a still caught mid-word had dlib's lips
        placed on the lower lip and beard, and a warp that closes them opened a band instead (7 Dec). Else the
        closed frame with the largest face, down to `least_size` of the still's (talk_d12's closed frames are
        0.7-0.9 of its still: its open "O" mouth was kept and painted over every driver's smile); else the
        indexed still."""
        track, still = self.track(), self.item.still_frame
        seen = np.flatnonzero(~np.isnan(track[:, 0, 0]))
        lm = track[seen]
        iod = lmk.interocular(lm)
        size = float(lmk.interocular(np.asarray(self.item.landmarks, np.float64)))
        closed = lmk.mouth_gap(lm) <= max_gap * iod
        ok = seen[closed & (iod >= min_size * size)]
        if len(ok):
            return int(ok[np.argmin(np.abs(ok - still))])
        smaller = closed & (iod >= least_size * size)
        return int(seen[smaller][np.argmax(iod[smaller])]) if smaller.any() else still

    def clip_still(self, start: int, n: int, at: float | None = None) -> int:
        """The frame of the clip [start, start + n) nearest its point `at` (0 its first frame, 1 its last; None:
        its middle) where this file's person is tracked (that point when none is): the still a fake takes of a
        clip, which its paired real then takes too."""
        want = (n - 1) / 2 if at is None else at * (n - 1)
        seen = np.flatnonzero(~np.isnan(self.track()[start:start + n, 0, 0]))
        return start + (int(seen[np.argmin(np.abs(seen - want))]) if len(seen)
                        else n // 2 if at is None else min(n - 1, int(want + 0.5)))


class Sources(list):
    """A sample's sources in plan order, looked up by role."""

    @classmethod
    def of(cls, drawn, root: Path, cache_dir: Path, glasses: set[str]) -> "Sources":
        """The sources of a sample's (item, role) draw, files under `root`; `glasses`: the identities that wear
        glasses (`glasses_identities` of the index), which some backends treat apart."""
        return cls(Source(it, Path(root) / it.path, role, cache_dir, it.identity in glasses) for it, role in drawn)

    def role(self, name: str) -> Source:
        """The first source in role `name`."""
        found = self.all(name)
        if not found:
            roles = ", ".join(s.role for s in self) or "none"
            raise SynthfakeError(f"no source in role '{name}' (roles here: {roles})")
        return found[0]

    def all(self, name: str) -> list[Source]:
        return [s for s in self if s.role == name]


def track_file(cache_dir: Path, sha256: str, reference: list[float] | None = None) -> Path:
    """Where the track of a video's person is cached: per file and per reference embedding."""
    key = f"{sha256}.id{canonical_hash(reference, 12)}" if reference is not None else sha256
    return Path(cache_dir) / "tracks" / f"{key}.npy"


def video_track(path: Path, sha256: str, cache_dir: Path, reference: list[float] | None = None,
                frames: int = 0) -> np.ndarray:
    """The track of the person whose embedding is `reference` (the largest face when None), cached per both in the
    dataset (`cache_dir`) and on this machine (`machine_cache`). A long video (`frames`, as indexed) is said first:
    its whole track comes before its first sample, and a run had sat at 0 for minutes without a word."""
    cache = track_file(cache_dir, sha256, reference)
    if cache.exists():
        return np.load(cache, allow_pickle=False)
    kind_key = machine_kind("tracks", TRACK_VERSION)
    shared = len(sha256) == 64  # a file's real sha256 (a caller's made-up name stays out of the machine cache)
    out = machine_cache.read_array(kind_key, cache.stem) if shared else None
    if out is None:
        if frames >= LONG_TRACK:
            print(f"tracking the face through all {frames} frames of {path.name} (once per file, kept on this "
                  f"machine; at ~{TRACK_FPS} frames/s on one core, about {frames / TRACK_FPS / 60:.0f} min)",
                  file=sys.stderr, flush=True)
        ref = np.array(reference, np.float32) if reference is not None else None
        found = faces.track(_told(media.iter_frames(path), frames, path.name), ref)
        out = np.full((len(found), 68, 2), np.nan, np.float32)
        for i, f in enumerate(found):
            if f is not None:
                out[i] = f.landmarks
        if shared:
            machine_cache.write_array(kind_key, cache.stem, out)
    write_npy_atomic(cache, out)
    return out
