"""HTTP for hosted generators: retries with backoff on 429/5xx/timeouts (honouring Retry-After), a
cross-process limit on requests in flight, and failures whose messages never carry the API key.

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
from urllib.parse import urlsplit

from synthfake.errors import ServiceFailed


@dataclass
class Policy:
    """Per-request timeout (s), retries after the first attempt, exponential backoff base (s), longest wait (s)."""

    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    max_wait: float = 120.0


def scrub(text: str, secret: str | None) -> str:
    """The text with the secret replaced, on one line and cut short (for failure reasons)."""
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())[:200]


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


def request(session, method: str, url: str, policy: Policy, secret: str | None, **kw):
    """One HTTP call with retries; returns (response, attempts). 4xx other than 429 fails at once."""
    import requests

    last = ""
    for attempt in range(policy.retries + 1):
        wait = backoff(policy, attempt)
        try:
            r = session.request(method, url, timeout=policy.timeout, **kw)
        except requests.Timeout:
            last = f"no response within {policy.timeout:g}s"
        except requests.ConnectionError as e:
            last = f"connection failed ({type(e).__name__})"
        else:
            if r.status_code < 400:
                return r, attempt + 1
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


def same_site(url: str, base: str) -> bool:
    """True when `url` is on the base URL's host or a subdomain of its parent domain (keys may go there)."""
    host, base_host = urlsplit(url).hostname or "", urlsplit(base).hostname or ""
    if host == base_host:
        return True
    parts = base_host.split(".")
    return len(parts) >= 2 and not base_host.replace(".", "").isdigit() and host.endswith("." + ".".join(parts[-2:]))


@contextmanager
def slot(folder: Path, k: int, wait_s: float = 3600.0):
    """Hold one of `k` request slots shared by every process using `folder` (flock'd files)."""
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for i in range(k):
            fh = open(folder / f"slot-{i}.lock", "a")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
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
