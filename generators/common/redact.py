"""Removing an API key from text a server sent back, in every form a reply may carry it.

A server may echo the key plain, JSON `\\u`-escaped (all or some characters), `\\x`-escaped, percent-encoded
(once or twice, upper or lower case hex), as HTML character references, base64 (standard or URL-safe, at any
byte offset inside a longer encoded blob), hex, or any mix of these within one copy. `redact` replaces each
copy with `***`, every copy in one pass, whichever forms come first; text a reader would decode to the key
(a named HTML entity, nested escapes) is then decoded and redacted too, until no form is left.
"""

from __future__ import annotations

import base64
import html
import re
from functools import lru_cache
from urllib.parse import unquote, unquote_plus

MASK = "***"
_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_X_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _char(c: str) -> str:
    """A regex for one character of the key as a reply may spell it."""
    o = ord(c)
    forms = [re.escape(c), rf"(?i:\\u{o:04x})", rf"(?i:%(?:25)?{o:02x})", rf"&#0*{o};?", rf"(?i:&#x0*{o:x};?)"]
    if o < 0x80:
        forms.append(rf"(?i:\\x{o:02x})")
    if c in "/\"\\'":
        forms.append(re.escape("\\" + c))  # JSON's \/ and quoted escapes
    return "(?:" + "|".join(forms) + ")"


def _base64_cores(key: bytes) -> set[str]:
    """The base64 characters that depend on the key's bytes alone, at each of the three byte offsets the key can
    start at inside a longer encoded blob, standard and URL-safe alphabets."""
    cores = set()
    for k in range(3):
        full = base64.b64encode(bytes(k) + key).decode()
        core = full[-(-4 * k // 3):(8 * (k + len(key))) // 6]
        if len(core) >= 8:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


@lru_cache(maxsize=8)
def _pattern(secret: str) -> re.Pattern:
    raw = secret.encode()
    whole = "".join(_char(c) for c in secret)
    extra = sorted(_base64_cores(raw), key=len, reverse=True) + [raw.hex()]
    return re.compile("|".join([whole, *(f"(?i:{re.escape(e)})" if e == raw.hex() else re.escape(e)
                                         for e in extra)]))


def _decoded(text: str) -> list[str]:
    """The text as a reader would decode it: JSON and \\x escapes, URL-encoding and HTML references undone."""
    esc = _X_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    forms = [esc, unquote(text), unquote_plus(text), unquote(esc), html.unescape(text)]
    return forms + [html.unescape(f) for f in forms]


def redact(text: str, secret: str | None) -> str:
    """The text with every copy of the secret, in every form above, replaced by ***; where a copy shows only once
    the text is decoded, the decoded text is redacted and returned (no encoded copy survives)."""
    if not secret or not text:
        return text
    pattern = _pattern(secret)
    text = pattern.sub(MASK, text)
    for _ in range(4):  # nested encodings: decode, redact again
        found = next((f for f in _decoded(text) if pattern.search(f)), None)
        if found is None:
            break
        text = pattern.sub(MASK, found)
    return text


def scrub(text: str, secret: str | None) -> str:
    """The text with the secret redacted, on one line and cut short (for failure reasons)."""
    return " ".join(redact(text, secret).split())[:200]


def scrub_obj(obj, secret: str | None):
    """A JSON-like value (e.g. a record's params) with the secret redacted from every string in it, keys too."""
    if isinstance(obj, str):
        return redact(obj, secret)
    if isinstance(obj, dict):
        return {scrub_obj(k, secret): scrub_obj(v, secret) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_obj(v, secret) for v in obj]
    return obj
