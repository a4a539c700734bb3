"""The records as the audit holds them: one slotted object per record, sharing what records repeat.

A pydantic `Record` costs about 6.5 kB in memory (its field dict and field set), so a million of them need more
than this machine has. The checks read records only through attributes, so each validated record is kept as a
`RecordView` with the same names: strings that repeat (type, backend, split, identities) interned, equal sources
and media properties shared, and none of the fields that differ between identical runs (rank, world size, host,
timing), which no check reads. About 0.8 kB a record.
"""

from __future__ import annotations

import sys

from ..manifest import Record

KEPT = ("id", "index", "type", "label", "backend", "backend_version", "weights", "weights_unverified", "params",
        "seed", "sources", "identities", "path", "sha256", "bytes", "media", "manipulated_frames", "degradations",
        "attempt", "split")


class RecordView:
    """A record's fields the audit reads (`KEPT`), read-only by convention."""

    __slots__ = KEPT

    def __repr__(self) -> str:
        return f"RecordView(id={self.id!r}, index={self.index}, type={self.type!r}, path={self.path!r})"


class Compactor:
    """Turns validated records into RecordViews, sharing equal sub-objects across the records it has seen."""

    def __init__(self):
        self.shared: dict = {}

    def _share(self, key, value):
        return self.shared.setdefault(key, value)

    def __call__(self, r: Record) -> RecordView:
        v, d = RecordView(), r.__dict__
        for name in KEPT:
            setattr(v, name, d[name])
        v.type, v.backend, v.split = sys.intern(r.type), sys.intern(r.backend), sys.intern(r.split)
        v.backend_version = sys.intern(r.backend_version)
        keys = tuple((s.path, s.sha256, s.identity, s.role) for s in r.sources)
        v.sources = self._share(("sources", keys), tuple(self._share(("source", k), s) for k, s in zip(keys, r.sources)))
        v.identities = self._share(("identities", tuple(r.identities)), tuple(sys.intern(i) for i in r.identities))
        m = r.media
        v.media = self._share(("media", m.kind, m.width, m.height, m.frames, m.fps, m.duration, m.codec, m.audio), m)
        v.weights = r.weights or _EMPTY_DICT
        v.weights_unverified = r.weights_unverified or _EMPTY_LIST
        v.degradations = r.degradations or _EMPTY_LIST
        v.params = r.params or _EMPTY_DICT
        return v


_EMPTY_DICT: dict = {}
_EMPTY_LIST: list = []
