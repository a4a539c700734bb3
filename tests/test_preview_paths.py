"""`gen preview` on awkward files, without generating anything (a synthetic dataset whose media are tiny
undecodable files): source names holding '#', '?', '%xx' and spaces are linked by the page as those files (each
path segment URL-quoted, the `#t=` media fragment after it); a file that is there but cannot be decoded is drawn
'unreadable' (the reason in the page's caption and title) and said on stderr, a file not there stays 'missing',
and the exit code stays 0."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import soundfile as sf
from PIL import Image

from synthfake import media
from synthfake.manifest import read_records, resolve
from synthfake.preview import group_records

from conftest import gen

ODD_IMAGES = ("talk #1.jpg", "q?x=1.jpg", "pct%41.jpg", "100%.jpg")  # '#': fragment, '?': query, '%41': 'A'
ODD_AUDIO = "speech #2.wav"


def synthetic(tmp_path: Path, n: int = 6, reals: int = 2) -> Path:
    """A dataset of n fakes and `reals` reals whose records point at tiny undecodable files (no generation)."""
    from synthetic_dataset import plan_dataset, write_records, write_sources

    src = tmp_path / "src"
    ds = plan_dataset(tmp_path / "D", src, write_sources(src, files=24, people=8), n, reals)
    write_records(ds)
    return tmp_path / "D"


def _rewrite(ds: Path, edit) -> None:
    """Apply edit(record dict) -> bool (changed) to the manifest's lines."""
    for part in sorted((ds / "manifest").glob("part-*.jsonl")):
        lines = [json.loads(x) for x in part.read_text().splitlines()]
        if any([edit(r) for r in lines]):
            part.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines))


def odd_named(tmp_path: Path) -> Path:
    """The synthetic dataset with every fake decodable and pointing at sources with odd names (images and a
    speech segment used from 0.5 s for 1 s), each file real and readable."""
    ds = synthetic(tmp_path)
    src = tmp_path / "src" / "odd dir"
    src.mkdir()
    for name in ODD_IMAGES:
        Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(src / name, format="JPEG")
    sf.write(src / ODD_AUDIO, np.sin(np.linspace(0, 400, 32000)).astype(np.float32), 16000)

    def edit(r):
        media.write_png((ds / r["path"]).with_suffix(""), np.full((16, 16, 3), 90, np.uint8))
        if r["label"] == 1:
            r["sources"] = [{**r["sources"][0], "path": f"odd dir/{name}", "role": role}
                            for name, role in zip((*ODD_IMAGES, ODD_AUDIO), ("source", "target", "base", "driving",
                                                                             "audio"))]
            r["params"] = {"audio_offset_s": 0.5, "audio_seconds": 1.0}
        return True

    _rewrite(ds, edit)
    return ds


def test_page_links_source_names_with_hash_query_and_percent_as_those_files(tmp_path):
    ds = odd_named(tmp_path)
    sheet = tmp_path / "out" / "sheet.png"
    proc = gen("preview", ds, "--out", sheet, "--html", "--per-row", 1)
    page = sheet.with_suffix(".html").read_text()
    srcs = [html.unescape(s) for s in re.findall(r'\ssrc="([^"]*)"', page)]
    print("\n" + "\n".join(srcs))
    assert "unreadable" not in proc.stderr and "missing" not in page
    seen = set()
    for s in srcs:  # as a browser reads the attribute: path (percent-decoded) and fragment
        url = urlsplit(s)
        target = (sheet.parent / unquote(url.path)).resolve()
        assert not url.query and target.is_file(), f"{s!r} points at {target}"
        seen.add(target.name)
        if target.name == ODD_AUDIO:
            assert url.fragment == "t=0.500,1.500", s
    assert {*ODD_IMAGES, ODD_AUDIO} <= seen


def test_unreadable_media_are_drawn_so_said_on_stderr_and_exit_0(tmp_path):
    ds = synthetic(tmp_path)  # every sample's media: a few bytes that are no PNG; no source file there
    records = read_records(ds)
    gone = next(r for r in records if r.label == 1)
    resolve(ds, gone).unlink()  # not there: stays 'missing', and is not called unreadable
    sheet = tmp_path / "sheet.png"
    proc = gen("preview", ds, "--out", sheet, "--html", check=False)
    print("\n" + proc.stderr)
    assert proc.returncode == 0 and sheet.exists()
    warns = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARN: ")]
    shown = [r for rs in group_records(records, 4).values() for r in rs]
    assert gone in shown
    drawn = len(shown) - 1  # every sample shown is unreadable but the removed one
    assert drawn > 5 and len(warns) == 6  # 5 named, then a count
    assert all("unreadable (not a decodable image" in w for w in warns[:5])
    assert warns[5].startswith(f"WARN: {drawn - 5} more unreadable file(s)")
    assert str(resolve(ds, gone)) not in proc.stderr
    page = sheet.with_suffix(".html").read_text()
    assert page.count('class="bad">unreadable<') == drawn and page.count('class="bad">missing<') >= 1
    assert re.search(r'<figure title="fake: unreadable \(not a decodable image[^"]*"', page)


def test_sheet_tiles_say_unreadable_not_missing(tmp_path):
    from synthfake.preview import preview

    ds = synthetic(tmp_path, n=2, reals=1)
    said = []
    rows = preview(ds, tmp_path / "s.png", warn=said.append)
    tiles = [c.tiles[0] for cells in rows.values() for c in cells]
    assert tiles and all(t.unreadable and "not a decodable image" in t.unreadable[1] for t in tiles)
    sources = [t for cells in rows.values() for c in cells for t in c.tiles[1:]]
    assert sources and not any(t.unreadable for t in sources)  # not there: missing
    assert len(said) == len(tiles) and all("unreadable" in s for s in said)
