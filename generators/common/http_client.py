"""HTTP for hosted generators: retries with backoff on 429/5xx/timeouts (honouring Retry-After), a
cross-process limit on requests in flight, and failures whose messages never carry the API key.

Secrets: `api_key` strips and checks a key before any use; `request` sends a key only to an origin (scheme, host,
port) the caller trusts and never follows a redirect with it (requests drops only `Authorization` on redirects);
`guard` is the one exit of the HTTP layer: every exception leaving it has the key scrubbed (in every form a
reply may carry it: `redact.py`) and no chained traceback that could hold it.

`requests` is imported inside the functions (it is in the [models] extra).
"""

from __future__ import annotations

import email.utils
import fcntl
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from synthfake.errors import BackendNotReady, EnvironmentBroken, ServiceFailed, SynthfakeError
from synthfake.files import lock_nowait

from .redact import redact, scrub, scrub_obj  # noqa: F401  (the scrubbing this layer applies)

MAX_REDIRECTS = 5


@dataclass
class Policy:
    """Per-request timeout (s), retries after the first attempt, exponential backoff base (s), longest wait (s)."""

    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    max_wait: float = 120.0


def api_key(raw: str | None, variable: str) -> str:
    """The key from environment variable `variable`, surrounding whitespace (a trailing newline from a file)
    stripped; a key that would not make a valid HTTP header fails naming the variable, never the value."""
    key = (raw or "").strip()
    if not key:
        raise BackendNotReady(f"${variable} is not set or blank")
    bad = next((i for i, c in enumerate(key) if not 0x21 <= ord(c) <= 0x7E), None)
    if bad is not None:
        raise BackendNotReady(f"${variable}: the key holds a space, control or non-ASCII character at position "
                              f"{bad + 1} of {len(key)}; an API key is printable ASCII without spaces")
    return key


@contextmanager
def guard(secret: str | None):
    """Run HTTP work; any exception leaves as one scrubbed line, without the chained traceback (whose frames and
    messages, e.g. requests' InvalidHeader, may hold the key). Library errors become ServiceFailed."""
    try:
        yield
    except SynthfakeError as e:
        e.args = (scrub(str(e), secret) if secret else str(e),)
        for attr in ("path", "reason"):
            if isinstance(getattr(e, attr, None), str):
                setattr(e, attr, scrub(getattr(e, attr), secret))
        raise e.with_traceback(None) from None
    except Exception as e:
        raise ServiceFailed(scrub(f"{type(e).__name__}: {e}", secret)) from None


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port made explicit for http/https."""
    u = urlsplit(url)
    default = {"http": 80, "https": 443}.get(u.scheme.lower())
    try:
        port = u.port or default
    except ValueError:
        port = -1  # an invalid port never matches
    return u.scheme.lower(), (u.hostname or "").lower(), port


def where(url: str) -> str:
    """scheme://host[:port]/path of a URL, without user info, query or fragment (those may hold tokens)."""
    u = urlsplit(url)
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.hostname or ''}{port}{u.path}"


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(policy: Policy, attempt: int) -> float:
    return policy.backoff * (2 ** attempt) * (1.0 + 0.25 * random.random())


def _carries(kw: dict, secret: str | None) -> bool:
    return bool(secret) and any(secret in str(v) for v in (kw.get("headers") or {}).values())


def _send(session, method: str, url: str, policy: Policy, secret: str | None, trusted, kw: dict):
    """One request. With the key in a header: only to a trusted origin, and redirects are followed by hand,
    to trusted origins only (307/308 keep the method and body, others become GET)."""
    if not _carries(kw, secret):
        return session.request(method, url, timeout=policy.timeout, **kw)
    for _ in range(MAX_REDIRECTS + 1):
        if trusted is None or not trusted(url):
            raise ServiceFailed(f"{method} {where(url)}: not the configured API origin; the key is not sent there")
        r = session.request(method, url, timeout=policy.timeout, allow_redirects=False, **kw)
        if not r.is_redirect:
            return r
        nxt = urljoin(url, r.headers.get("Location", ""))
        if trusted(nxt):
            url, method = nxt, (method if r.status_code in (307, 308) else "GET")
            kw = kw if method != "GET" else {k: v for k, v in kw.items() if k not in ("json", "data")}
            continue
        raise ServiceFailed(f"{method} {where(url)}: HTTP {r.status_code} redirect to {where(nxt)}, another "
                           "origin; not followed with the key")
    raise ServiceFailed(f"{method} {where(url)}: more than {MAX_REDIRECTS} redirects")


def _whole(r, deadline: float):
    """`r` (sent with stream=True) with its body read by `deadline`: requests' timeout bounds each wait for bytes,
    so a server that sends one byte every half second held a request far past `Policy.timeout` (7 Dec sweep)."""
    import requests

    body = bytearray()
    for chunk in r.iter_content(1 << 16):
        body += chunk
        if time.monotonic() > deadline:
            r.close()
            raise requests.Timeout("body not read in time")
    r._content, r._content_consumed = bytes(body), True  # what requests itself sets once it has read the body
    return r


def request(session, method: str, url: str, policy: Policy, secret: str | None, trusted=None, **kw):
    """One HTTP call with retries; returns (response, attempts). 4xx other than 429 fails at once.
    `trusted(url)` says whether a request carrying the key (in a header) may go to that URL."""
    import requests

    last = ""
    for attempt in range(policy.retries + 1):
        wait = backoff(policy, attempt)
        try:
            r = _whole(_send(session, method, url, policy, secret, trusted, {**kw, "stream": True}),
                       time.monotonic() + policy.timeout)
        except requests.Timeout:
            last = f"no response within {policy.timeout:g}s"
        except requests.ConnectionError as e:
            last = f"connection failed ({type(e).__name__})"
        else:
            if r.status_code < 400:
                return r, attempt + 1
            if r.status_code in (401, 403, 407) and _carries(kw, secret):  # the key or account: stop the shard
                raise EnvironmentBroken(f"{method} {where(url)}: HTTP {r.status_code} (the key was refused: check "
                                        f"it and the account): {scrub(r.text, secret)[:200]}")
            if r.status_code in (401, 403, 407):  # sent without the key: a signed download link gone stale
                raise ServiceFailed(f"{method} {where(url)}: HTTP {r.status_code} on a request without the key (a "
                                    f"download link expired?): {scrub(r.text, secret)[:200]}")
            if r.status_code != 429 and r.status_code < 500:
                raise ServiceFailed(f"{method} {where(url)}: HTTP {r.status_code}: {scrub(r.text, secret)}")
            last = f"HTTP {r.status_code}"
            wait = retry_after(r.headers.get("Retry-After")) or wait
        if attempt < policy.retries:
            time.sleep(min(wait, policy.max_wait))
    raise ServiceFailed(f"{method} {where(url)}: {last} after {policy.retries + 1} attempts")


def json_body(r, url: str, secret: str | None) -> dict:
    """The response's JSON object; anything else is a failure naming the URL."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServiceFailed(f"{where(url)}: malformed response (expected a JSON object, got "
                           f"{scrub(r.text, secret)!r})")
    return body


def key_origins(base: str, extra: str = "", domain: str | None = None):
    """A `trusted(url)` test: the base URL's origin, the comma-separated origins in `extra`, and, when `domain`
    is given (a provider's own default, e.g. bfl.ai for its regional polling hosts), https on port 443 of that
    domain's subdomains. Scheme, host and port must all match."""
    allowed = {origin(base)} | {origin(o.strip()) for o in extra.split(",") if o.strip()}

    def trusted(url: str) -> bool:
        o = origin(url)
        return o in allowed or (bool(domain) and o[0] == "https" and o[2] == 443
                                and (o[1] == domain or o[1].endswith("." + domain)))
    return trusted


@contextmanager
def slot(folder: Path, k: int, wait_s: float = 3600.0):
    """Hold one of `k` request slots shared by every process using `folder` (flock'd files)."""
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for i in range(k):
            fh = lock_nowait(folder / f"slot-{i}.lock")
            if fh is None:
                continue
            try:
                yield i
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
                fh.close()
            return
        if time.monotonic() > deadline:
            raise ServiceFailed(f"{folder}: all {k} request slots stayed busy for {wait_s:g}s")
        time.sleep(0.05)
