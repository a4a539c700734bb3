"""`gen preview --html`: one page where every previewed sample plays beside its sources.

Media are linked, not copied, by paths relative to the page, each segment URL-quoted (a file named `talk #1.mp4`
or `100%.jpg` is that file to a browser, not a path cut at a fragment or a bad escape); video sources play only
the clip the sample used (a `#t=start,end` media fragment), audio only the segment used. A file that is not
there, or is there but cannot be decoded, gets a grey box saying 'missing' / 'unreadable' (the reason in its
caption and title) and a plain link instead of a player.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from .errors import ManifestError
from .manifest import Record, resolve, source_file
from .media import kind_of
from .preview import audio_span, group_records, load, problem
from .sources import SourceIndex

STYLE = """body{font-family:sans-serif;background:#fafafa;margin:16px}h2{margin:18px 0 6px}
.row{display:flex;flex-wrap:wrap;gap:14px}.cell{border:1px solid #ccc;background:#fff;padding:6px}
.cell.fake{border-color:#d62828}.cell.real{border-color:#28a046}.media{display:flex;gap:6px;align-items:flex-start}
figure{margin:0}figcaption{font-size:11px;color:#555}video,img{width:200px;height:200px;object-fit:contain;
background:#222}audio{width:200px}.cap{font-size:12px;margin-top:4px}.bad{width:200px;height:200px;
background:#c8c8c8;display:flex;align-items:center;justify-content:center;font-size:13px;color:#222}"""


def _rel(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()


def url_of(rel: str) -> str:
    """A relative posix path as a URL path: each segment percent-quoted ('#', '?', '%', ' ', ':' and non-ASCII
    included), so the browser reads the file's own name."""
    return "/".join(quote(seg, safe="") for seg in rel.split("/"))


def _linked(target, page_dir: Path, kind: str | None, label: str, fragment: str = "") -> str:
    """A player for `target` (a function giving the checked path); a path outside its root is not linked, a file
    missing or unreadable is said so beside a plain link to it."""
    try:
        path = target()
    except ManifestError as e:
        return f"<figure><figcaption>{html.escape(label)}: not shown ({html.escape(str(e))})</figcaption></figure>"
    src = url_of(_rel(path, page_dir))
    trouble = problem(path)
    if trouble is not None:
        return _broken(src, label, trouble)
    return _player(src, kind, label, fragment)


def _broken(src: str, label: str, trouble: str) -> str:
    """A grey box saying 'missing' or 'unreadable', the reason in its title and caption, and a link to the file."""
    word, _, why = trouble.partition(": ")
    cap = f"{label}: {word}" + (f" ({why})" if why else "")
    return (f'<figure title="{html.escape(cap)}"><div class="bad">{html.escape(word)}</div><figcaption>'
            f'{html.escape(cap)} <a href="{html.escape(src, quote=True)}">file</a></figcaption></figure>')


def _player(src: str, kind: str | None, label: str, fragment: str = "") -> str:
    """The player of `src` (a URL path, already quoted) and the part `fragment` (#t=...) plays."""
    src = html.escape(src + fragment, quote=True)
    if kind == "video":
        tag = f'<video src="{src}" controls muted loop playsinline preload="metadata"></video>'
    elif kind == "audio":
        tag = f'<audio src="{src}" controls preload="metadata"></audio>'
    else:
        tag = f'<img src="{src}" loading="lazy" alt="{html.escape(label)}">'
    return f"<figure>{tag}<figcaption>{html.escape(label)}</figcaption></figure>"


def _fragment(record: Record, role: str, kind: str | None, fps: float, still: int) -> str:
    """The part of a source the sample used: its audio segment, its clip, or (a face role) its still frame."""
    p, span = record.params, audio_span(record)
    if kind == "audio" and span:
        return f"#t={span[0]:.3f},{span[0] + span[1]:.3f}"
    if kind == "video" and fps > 0:
        if "clip_start" in p and role in ("target", "driving", "real"):
            return f"#t={p['clip_start'] / fps:.3f},{(p['clip_start'] + p['clip_frames']) / fps:.3f}"
        return f"#t={(still + 0.5) / fps:.3f}"
    return ""


def cell_html(ds: Path, root: Path, index: SourceIndex | None, record: Record, page_dir: Path) -> str:
    items = {it.path: it for it in index.items} if index else {}
    parts = [_linked(lambda: resolve(ds, record), page_dir, record.media.kind, "fake" if record.label else "real")]
    if record.label == 1:
        for ref in record.sources:
            kind = kind_of(ref.path)
            it = items.get(ref.path)
            frag = _fragment(record, ref.role, kind, it.fps if it else 0.0, it.still_frame if it else 0)
            parts.append(_linked(lambda ref=ref: source_file(root, ref), page_dir, kind, f"{ref.role}: {ref.identity}",
                                 frag))
    cls = "fake" if record.label else "real"
    cap = f"{record.id} &middot; {html.escape(record.split)} &middot; index {record.index}"
    return f'<div class="cell {cls}"><div class="media">{"".join(parts)}</div><div class="cap">{cap}</div></div>'


def write_page(dataset: str | Path, out: str | Path, per_row: int = 4, sources_dir: str | Path | None = None) -> int:
    """Write the HTML preview; returns the number of samples on it."""
    ds, root, index, records = load(dataset, sources_dir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    groups = group_records(records, per_row)
    body = []
    for (typ, backend), recs in groups.items():
        cells = "".join(cell_html(ds, root, index, r, out.parent) for r in recs)
        body.append(f"<h2>{html.escape(typ)} <small>{html.escape(backend)}</small></h2><div class='row'>{cells}</div>")
    title = html.escape(f"{ds.resolve().name}: {len(records)} samples")
    out.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style>"
                   f"</head><body><h1>{title}</h1>{''.join(body)}</body></html>\n")
    return sum(len(v) for v in groups.values())
