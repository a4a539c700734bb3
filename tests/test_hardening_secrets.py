"""Issue 30, class 1: the API key is scrubbed in every form a reply may carry it, every copy, in any order, from
every string of a record's fields (the run itself: test_http_t2i.py). Pure functions: milliseconds."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import pytest

from synthfake.generators.common.http_client import redact, scrub, scrub_obj

KEY = "sk-proj-Zq81/vX0s+Tw_9"  # '/' and '+' as base64-like keys hold them


def _forms(key: str) -> dict[str, str]:
    """The key as servers and libraries echo it."""
    raw = key.encode()
    return {
        "plain": key,
        "json_all": "".join(f"\\u{ord(c):04x}" for c in key),
        "json_dash": key.replace("-", "\\u002d"),
        "json_upper": key.replace("-", "\\u002D"),
        "json_slash": key.replace("/", "\\/"),
        "py_hex": "".join(f"\\x{b:02x}" for b in raw),
        "url": quote(key, safe=""),
        "url_lower": "".join(f"%{b:02x}" for b in raw),
        "url_twice": quote(quote(key, safe=""), safe=""),
        "html_dec": "".join(f"&#{ord(c)};" for c in key),
        "html_hex": "".join(f"&#x{ord(c):X};" for c in key),
        "hex": raw.hex(),
        "b64": base64.b64encode(raw).decode(),
        "b64_url": base64.urlsafe_b64encode(raw).decode(),
        "b64_offset1": base64.b64encode(b"{" + raw + b"}").decode(),
        "b64_offset2": base64.b64encode(b'{"' + raw + b'"}').decode(),
        "mixed": key[:2] + "%2D" + key[3:8] + "\\u005a" + key[9:],  # one copy, three forms
    }


def _leaks(text: str, key: str = KEY) -> list[str]:
    """The forms of the key still readable in `text` (decoding what a reader would decode)."""
    raw = key.encode()
    found = [name for name, form in _forms(key).items() if name != "mixed" and form in text]
    decoded = html.unescape(text)
    if key in decoded or key in json.loads(json.dumps(decoded)):
        found.append("decoded")
    for k in range(3):  # base64 of the key at any offset, standard or URL-safe
        core = base64.b64encode(bytes(k) + raw).decode()[-(-4 * k // 3):(8 * (k + len(raw))) // 6]
        if core in text or core.replace("+", "-").replace("/", "_") in text:
            found.append(f"b64 core {k}")
    return found


@pytest.mark.parametrize("name", list(_forms(KEY)))
def test_every_form_is_scrubbed(name):
    form = _forms(KEY)[name]
    out = redact(f"request req-{form}-end failed", KEY)
    assert "***" in out and not _leaks(out), (name, out)
    assert out.startswith("request req-") and out.endswith("failed")  # the rest of the text stays


def test_every_copy_in_any_order_and_mix_is_scrubbed():
    """The case the first pass missed: the key plain *and* escaped in one id, in either order, several times."""
    forms = list(_forms(KEY).values())
    for order in (forms, forms[::-1], forms[1:] + forms[:1]):
        text = "id=" + "|".join(order) + " trailer " + KEY
        out = redact(text, KEY)
        assert not _leaks(out), out
        assert out.count("***") >= len(forms)
    assert redact('{"id": "req-' + KEY + '-' + _forms(KEY)["json_dash"] + '"}', KEY) == '{"id": "req-***-***"}'


def test_every_string_of_a_record_is_scrubbed_keys_included():
    f = _forms(KEY)
    params = {"request_id": f"req-{KEY}-{f['json_dash']}", "polls": 3, "nested": {"status": [f["url"], f["b64"]]},
              f["hex"]: "a key that is the key", "ok": "nothing here", "ratio": 0.5}
    out = scrub_obj(params, KEY)
    assert not _leaks(json.dumps(out)), out
    assert out["polls"] == 3 and out["ok"] == "nothing here" and out["ratio"] == 0.5
    assert out["request_id"] == "req-***-***" and "***" in out


def test_scrub_keeps_other_text_and_cuts_after_redacting():
    assert redact("sk-other-key and sk-proj", KEY) == "sk-other-key and sk-proj"  # no other text is touched
    assert redact("", KEY) == "" and redact("text", None) == "text"
    long = ("x" * 190) + _forms(KEY)["url"]  # the cut to 200 characters comes after the key is gone
    assert not _leaks(scrub(long, KEY)) and "%" not in scrub(long, KEY)
