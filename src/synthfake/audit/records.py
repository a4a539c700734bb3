"""The records as the audit holds them: one named tuple per record, sharing what records repeat.

A pydantic `Record` costs about 6.5 kB in memory (its field dict and field set), so a million of them need more
than this machine has. The checks read records only through attributes, so each validated record is kept as a
`RecordView` with the same names: its sources and media properties as small named tuples shared by every record
that has equal ones, repeated names (type, backend, split, identities) interned, and none of the fields that
differ between identical runs (rank, world size, host, timing), which no check reads. About 0.6 kB a record,
built in a few microseconds (C-level field access and tuple construction).
"""

from __future__ import annotations

import sys
from operator import itemgetter
from typing import NamedTuple

from ..manifest import Record, SourceRef
from ..shared_types import MediaMeta

KEPT = ("id", "index", "type", "label", "backend", "backend_version", "weights", "weights_unverified", "params",
        "seed", "sources", "identities", "path", "sha256", "bytes", "media", "manipulated_frames", "degradations",
        "attempt", "split")


SourceView = NamedTuple("SourceView", [(name, str) for name in SourceRef.model_fields])
SourceView.__doc__ = "One of a record's sources (`SourceRef`'s fields), immutable."


MediaView = NamedTuple("MediaView", [(name, f.annotation) for name, f in MediaMeta.model_fields.items()])
MediaView.__doc__ = "A record's media properties (`MediaMeta`'s fields), immutable."


RecordView = NamedTuple("RecordView", [(name, object) for name in KEPT])
RecordView.__doc__ = "A record's fields the audit reads (`KEPT`), immutable."

_fields = itemgetter(*KEPT)
_source = itemgetter(*SourceView._fields)
_media = itemgetter(*MediaView._fields)
_AT = {name: k for k, name in enumerate(KEPT)}


class Compactor:
    """Turns validated records into RecordViews, sharing equal sub-objects across the records it has seen."""

    def __init__(self):
        self.shared: dict = {}

    def __call__(self, r: Record) -> RecordView:
        share = self.shared.setdefault
        v = list(_fields(r.__dict__))
        srcs = tuple(share(s, s) for s in (SourceView._make(_source(x.__dict__)) for x in r.sources))
        v[_AT["sources"]] = share(srcs, srcs)
        v[_AT["media"]] = share(m := MediaView._make(_media(r.media.__dict__)), m)
        v[_AT["identities"]] = share(ids := tuple(r.identities), ids)
        for name in ("type", "backend", "backend_version", "split"):
            v[_AT[name]] = sys.intern(v[_AT[name]])
        for name in ("weights", "params"):
            v[_AT[name]] = v[_AT[name]] or _EMPTY_DICT
        for name in ("weights_unverified", "degradations"):
            v[_AT[name]] = v[_AT[name]] or _EMPTY_LIST
        return RecordView._make(v)


_EMPTY_DICT: dict = {}
_EMPTY_LIST: list = []
