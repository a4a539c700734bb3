"""http_t2i through `gen run` against a real HTTP server on 127.0.0.1 speaking the BFL and OpenAI contracts.

The server plays a script of faults (429 with Retry-After, 500, a response slower than the client's timeout,
a malformed body, persistent 500s) and records every request, so that the tests can check retries, the
Retry-After wait, recorded failures, and that the API key reaches only the API and never a record or log.
"""

from __future__ import annotations

from types import SimpleNamespace

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest
from conftest import gen
from model_checks import audit_integrity, check_records, failures, model_env, sources

from synthfake.generators.common import http_client
from synthfake.errors import ServiceFailed
from synthfake.manifest import read_records
from synthfake.generators.common import prompts

KEY = "sk-synthfake-test-Zq81vX0s"
SIZE = "64x32"  # asked of the server in every run here (BFL: multiples of 32); the replies have this size
GRADIENT = np.dstack([np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))] * 3)
PNG = cv2.imencode(".png", GRADIENT)[1].tobytes()
TINY = cv2.imencode(".png", GRADIENT[:1, :1])[1].tobytes()  # a 1x1 placeholder
JPEG = cv2.imencode(".jpg", GRADIENT, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
KEY_JSON = KEY.replace("-", "\\u002d")  # as a JSON encoder that escapes '-' writes it
KEY_URL = "".join(f"%{b:02X}" for b in KEY.encode())  # every byte percent-encoded
KEY_B64 = base64.b64encode(KEY.encode()).decode()
KEY_FORMS = (KEY, KEY_JSON, KEY_URL, KEY_URL.lower(), KEY_B64[:-4], "".join(f"\\u{ord(c):04x}" for c in KEY),
             "".join(f"&#{ord(c)};" for c in KEY), KEY.encode().hex())


class Api(BaseHTTPRequestHandler):
    """Both contracts; `server.script[route]` lists the next replies, then everything succeeds."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code: int, body: bytes = b"", ctype: str = "application/json", headers: dict | None = None):
        try:
            self.send_response(code)
            for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); that is the point of the slow reply

    def _json(self, obj) -> None:
        self._send(200, json.dumps(obj).encode())

    def _fault(self, action: str) -> bool:
        if action == "429":
            self._send(429, b'{"detail": "slow down"}', headers={"Retry-After": "1"})
        elif action == "500":
            self._send(500, b'{"detail": "boom"}')
        elif action == "slow":
            time.sleep(2.0)
            return False
        elif action == "malformed":
            self._send(200, b"{not json at all")
        else:
            return False
        return True

    def _leak(self, action: str) -> bool:
        """Replies that echo the key (raw, JSON-escaped, URL-encoded) or redirect to another origin."""
        if action == "echo_json":
            self._send(400, ('{"detail": "key ' + KEY_JSON + ' is not allowed"}').encode())
        elif action == "echo_url":
            self._send(400, f"invalid request https://x.test/?k={KEY_URL}".encode(), "text/plain")
        elif action == "redirect":
            self._send(307, b"", headers={"Location": f"{self.server.elsewhere}/steal/{KEY_URL}"})
        else:
            return False
        return True

    def _next(self, route: str) -> str:
        srv = self.server
        with srv.lock:
            srv.log.append((route, time.monotonic(), dict(self.headers), self.path))
            return srv.script[route].pop(0) if srv.script[route] else "ok"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path == "/v1/flux-pro-1.1":
            action = self._next("submit")
            if self.headers.get("x-key") != KEY:
                return self._send(401, b'{"detail": "bad key"}')
            if self._fault(action) or self._leak(action):
                return
            tid = {"echo_id": KEY, "echo_id_mixed": f"req-{KEY}-{KEY_JSON}-{KEY_B64}"}.get(
                action, f"task{len(self.server.log)}")  # a request id that echoes the key, in one or several forms
            self.server.bodies.append(json.loads(body))
            poll_base = self.server.elsewhere if action == "other_port" else base
            return self._json({"id": tid, "polling_url": f"{poll_base}/v1/get_result?id={tid}"})
        if self.path == "/v1/images/generations":
            action = self._next("openai")
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self._send(401, b'{"error": "bad key"}')
            if self._fault(action):
                return
            if action == "empty":
                return self._json({"created": 1, "data": []})
            if action == "url":
                return self._json({"created": 1, "data": [{"url": f"{base}/delivery/openai.png"}]})
            return self._json({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]})
        self._send(404)

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}"
        url = urlsplit(self.path)
        if url.path == "/v1/get_result":
            action = self._next("poll")
            if self.headers.get("x-key") != KEY:
                return self._send(401, b'{"detail": "bad key"}')
            if self._fault(action):
                return
            tid = parse_qs(url.query)["id"][0]
            if action == "echo_status":
                return self._send(200, ('{"status": "' + KEY_JSON + '"}').encode())
            if action == "pending":
                return self._json({"id": tid, "status": "Pending"})
            return self._json({"status": "Ready", "result": {"sample": f"{base}/delivery/{tid}.png"}})
        if url.path.startswith("/delivery/"):
            action = self._next("delivery")
            if self.headers.get("x-key") or self.headers.get("Authorization"):
                return self._send(400, b"key sent to the delivery host")
            if action == "jpeg":  # a provider that ignores output_format, as BFL's default does
                return self._send(200, JPEG, "image/jpeg")
            if action == "tiny":  # not the size asked for
                return self._send(200, TINY, "image/png")
            if action == "huge":  # a PNG whose header states 40000x40000 (what a decoder would have to allocate)
                import struct
                import zlib
                def chunk(kind: bytes, data: bytes) -> bytes:
                    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
                png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)) \
                    + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b"")
                return self._send(200, png, "image/png")
            if action == "expired":  # a signed download link past its time: 403 to a request without any key
                return self._send(403, b"<Error><Code>AccessDenied</Code>Request has expired</Error>", "text/xml")
            if action == "drip":  # a byte every 0.3 s: each wait is short, the whole reply takes 3 s
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", "10")
                    self.end_headers()
                    for _ in range(10):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.3)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            return self._send(200, PNG, "image/png")
        self._send(404)


@pytest.fixture()
def api():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    srv.lock, srv.log, srv.bodies = threading.Lock(), [], []
    srv.script = {"submit": [], "poll": [], "openai": [], "delivery": []}
    srv.elsewhere = ""
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def elsewhere(api):
    """A second server on another port of 127.0.0.1 (another origin), logging whatever reaches it."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    srv.lock, srv.log, srv.bodies, srv.elsewhere = threading.Lock(), [], [], ""
    srv.script = {"submit": [], "poll": [], "openai": [], "delivery": []}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    api.elsewhere = f"http://127.0.0.1:{srv.server_port}"
    yield srv
    srv.shutdown()
    srv.server_close()


RUN_OPTS = ("timeout=1", "retries=2", "backoff=0.05", "poll_interval=0.05", "concurrency=2")  # not in plan.json


def _run(tmp: Path, srv, provider: str, n: int, key_env: str, *opts: str, key: str = KEY, check: bool = False,
         **extra):
    env = model_env(tmp / "home", **{key_env: key}, **extra)
    ds = tmp / "D"
    base = {"provider": provider, "url": f"http://127.0.0.1:{srv.server_port}", "size": SIZE}
    given = {o.partition("=")[0] for o in opts}  # an option given here replaces the default (a key given twice is refused)
    run = [o for o in RUN_OPTS if o.partition("=")[0] not in given]
    opts = (*(f"{k}={v}" for k, v in base.items() if k not in given), *opts, *run)
    proc = gen("run", "--type", "generation", "--backend", "generation=http_t2i", "--n", n, "--reals", 0,
               "--splits", "train=1,val=0,test=0", "--sources", sources(tmp, ["photo_s1.jpg"]), "--out", ds,
               *[a for o in opts for a in ("--backend-opt", f"http_t2i.{o}")], env=env, check=check)
    return ds, proc


def _no_key_anywhere(ds: Path, proc) -> None:
    for form in KEY_FORMS:
        assert form not in proc.stdout + proc.stderr, form
        for p in ds.rglob("*"):
            if p.is_file():
                data = p.read_bytes()  # as written, and with JSON's escaped backslashes read back
                assert form.encode() not in data and form.encode() not in data.replace(b"\\\\", b"\\"), (p, form)


def test_key_never_leaks_nor_goes_to_another_origin(tmp_path, api, elsewhere, data_dir):
    """Class: secrets. Replies echo the key raw, JSON-escaped and URL-encoded, in error bodies, a poll status
    and a request id (one holding it plain, JSON-escaped and base64 at once); one redirects across origins, one
    polls on another port. The key reaches no byte of the dataset, stdout or stderr, in no form, and no request
    to the other origin; the key is stripped and checked first; run options stay out of plan.json."""
    api.script["submit"] = ["echo_json", "echo_url", "redirect", "other_port", "echo_id", "ok", "echo_id_mixed"]
    api.script["poll"] = ["ready", "echo_status", "ready"]  # samples 4 and 6 (ids echo the key) are made; 5 fails
    ds, proc = _run(tmp_path, api, "bfl", 7, "BFL_API_KEY", key=KEY + "\n")  # a key read from a file
    assert proc.returncode == 1 and "5 sample(s) failed" in proc.stderr  # bad samples: recorded, run goes on
    fails = failures(ds)
    assert sorted(fails) == [0, 1, 2, 3, 5], fails
    assert "HTTP 400" in fails[0] and "***" in fails[0] and "***" in fails[1]
    assert "redirect to http://127.0.0.1:" in fails[2] and "not followed with the key" in fails[2]
    assert "another origin; the key is not sent there" in fails[3]
    assert "status '***'" in fails[5]
    record, mixed = sorted(check_records(ds, {}), key=lambda r: r.index)
    assert record.index == 4 and record.params["request_id"] == "***"
    assert mixed.index == 6 and mixed.params["request_id"].startswith("req-***-***-***"), mixed.params
    plan = json.loads((ds / "plan.json").read_text())
    assert set(plan["backend_opts"]["http_t2i"]) == {"provider", "url", "size"}  # no timeout, retries...
    assert elsewhere.log == []  # nothing, keyed or not, went to the other origin
    _no_key_anywhere(ds, proc)
    # a key with a space inside fails before any request, naming the variable and never the value
    bad = "sk-two words"
    sent = len(api.log)
    ds2, proc2 = _run(tmp_path / "bad", api, "bfl", 1, "BFL_API_KEY", key=bad, check=False)
    assert proc2.returncode == 2 and "$BFL_API_KEY: the key holds a space" in proc2.stderr
    said = [ln for ln in proc2.stderr.strip().splitlines() if not ln.startswith("indexing sources: ")]
    assert bad not in proc2.stdout + proc2.stderr and len(said) <= 2, said
    assert not ds2.exists() and len(api.log) == sent  # nothing written, no request sent
    # a key the API refuses (401 on every request) is not the samples' fault: the shard stops, exit 3,
    # nothing recorded as failed, so the rerun with the right key resumes without --retry-failed
    ds3, proc3 = _run(tmp_path / "refused", api, "bfl", 3, "BFL_API_KEY", key="sk-wrong-key")
    errors = [ln for ln in proc3.stderr.splitlines() if ln.startswith("error:")]
    assert proc3.returncode == 3 and len(errors) == 1 and "HTTP 401 (the key was refused" in errors[0], proc3.stderr
    assert failures(ds3) == {} and read_records(ds3) == [] and "sk-wrong-key" not in proc3.stderr + proc3.stdout
    ds3, proc3 = _run(tmp_path / "refused", api, "bfl", 3, "BFL_API_KEY")
    assert proc3.returncode == 0 and len(read_records(ds3)) == 3


def test_bfl_retries_polls_records_and_fails_cleanly(tmp_path, api, data_dir):
    api.script["submit"] = ["429", "500", "ok",  # sample 0: throttled, a server error, then accepted
                            "ok",  # sample 1: accepted, but its poll answers garbage
                            "slow", "ok",  # sample 2: the first reply comes after the client's 1 s timeout
                            "500", "500", "500"]  # sample 3: errors on all 3 attempts
    api.script["poll"] = ["pending", "ready", "malformed", "ready"]
    ds, proc = _run(tmp_path, api, "bfl", 4, "BFL_API_KEY")
    records = {r.index: r for r in check_records(ds, {})}
    assert sorted(records) == [0, 2]
    fails = failures(ds)
    assert sorted(fails) == [1, 3]
    assert "malformed response" in fails[1] and "/v1/get_result" in fails[1]
    assert "HTTP 500 after 3 attempts" in fails[3]
    submits = [t for route, t, _, _ in api.log if route == "submit"]
    assert submits[1] - submits[0] >= 0.95  # waited Retry-After: 1, not the 0.05 s backoff
    assert submits[5] - submits[4] >= 0.95  # the slow reply was abandoned after the 1 s timeout
    for r in records.values():
        assert r.sources == [] and r.weights == {}
        assert r.params["prompt"] == prompts.sample(r.seed).text and r.params["provider"] == "bfl"
        assert (r.media.width, r.media.height) == (64, 32)
    assert records[0].params["attempts"] == 3 + 2 + 1  # 3 submits, 2 polls, 1 download
    sent = {b["seed"] for b in api.bodies}
    assert {records[0].seed, records[2].seed} <= sent and all((b["width"], b["height"]) == (64, 32) for b in api.bodies)
    _no_key_anywhere(ds, proc)
    deliveries = [h for route, _, h, _ in api.log if route == "delivery"]
    assert deliveries and not any("x-key" in {k.lower() for k in h} for h in deliveries)
    audit_integrity(ds, tmp_path)


def test_bfl_jpeg_is_refused_or_converted_and_recorded(tmp_path, api, data_dir):
    api.script["delivery"] = ["jpeg", "ok"]
    ds, _ = _run(tmp_path / "refuse", api, "bfl", 2, "BFL_API_KEY")
    assert all(b["output_format"] == "png" for b in api.bodies)  # PNG asked for on every submit
    assert "returned a jpeg image" in failures(ds)[0]
    (rec,) = check_records(ds, {})
    assert rec.index == 1 and rec.params["returned_format"] == "png" and not rec.params["converted_to_png"]
    api.script["delivery"] = ["jpeg"]
    ds, _ = _run(tmp_path / "convert", api, "bfl", 1, "BFL_API_KEY", "lossy=convert")
    (rec,) = check_records(ds, {})
    assert rec.params["returned_format"] == "jpeg" and rec.params["converted_to_png"]
    assert (ds / rec.path).read_bytes().startswith(b"\x89PNG")


def test_reply_of_another_size_is_refused_and_options_are_checked_first(tmp_path, api, data_dir):
    """Class: accepting nonsense. A 1x1 image for the 64x32 asked is a recorded failure, not a fake; an ftp URL,
    a port over 65535, a size of 0x0, an unknown key variable name or a timeout of nan are refused before
    anything is written or sent (exit 2, one line naming the option)."""
    api.script["delivery"] = ["tiny", "ok"]
    ds, proc = _run(tmp_path / "tiny", api, "bfl", 2, "BFL_API_KEY")
    assert proc.returncode == 1 and "returned a 1x1 image for the 64x32 asked" in failures(ds)[0]
    (rec,) = check_records(ds, {})
    assert rec.index == 1 and (rec.media.width, rec.media.height) == (64, 32)
    sent = len(api.log)
    for opt, why in (("url=ftp://127.0.0.1/x", "http_t2i.url='ftp://127.0.0.1/x': expected http(s)://"),
                     ("url=http://127.0.0.1:70000", "with a port of 1-65535"),
                     ("url=http://user:PASSWD1@127.0.0.1:8806", "http_t2i.url='http://127.0.0.1:8806' with a user "
                                                                "name or password in it: the URL is written into "
                                                                "plan.json"),
                     ("url=http://127.0.0.1:8806/v1?api-key=PASSWD1", "http_t2i.url='http://127.0.0.1:8806/v1' "
                                                                     "with a query or fragment after it"),
                     ("url=http://127.0.0.1:8806/#PASSWD1", "with a query or fragment after it"),
                     ("size=0x0", "http_t2i.size='0x0': each side must be 1-16384 pixels"),
                     ("key_env=NOT-A-NAME", "http_t2i.key_env='NOT-A-NAME': expected an environment variable"),
                     ("timeout=nan", "--backend-opt http_t2i.timeout nan: not a finite number"),
                     ("retries=-1", "--backend-opt http_t2i.retries -1: must be >= 0")):
        bad = tmp_path / "bad"
        _, proc = _run(bad, api, "bfl", 1, "BFL_API_KEY", opt)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert proc.returncode == 2 and errors and why in errors[0], (opt, proc.stderr[-800:])
        assert not (bad / "D").exists() and len(api.log) == sent, opt
        assert "PASSWD1" not in proc.stderr + proc.stdout, opt


def test_image_format_reads_magic_bytes():
    from synthfake.generators.http_t2i import image_format

    assert image_format(PNG) == "png" and image_format(JPEG) == "jpeg"
    webp = cv2.imencode(".webp", GRADIENT, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    assert image_format(webp) == "webp-lossless"
    assert image_format(cv2.imencode(".webp", GRADIENT, [cv2.IMWRITE_WEBP_QUALITY, 80])[1].tobytes()) == "webp-lossy"
    assert image_format(b"<html>") == "unknown"


def test_a_page_returned_as_the_image_is_called_not_an_image():
    """An HTML page as the image was refused as a lossy format, with a hint (lossy=convert) that cannot help."""
    from synthfake.errors import ServiceFailed
    from synthfake.generators.http_t2i import check_format

    cfg = SimpleNamespace(lossy="convert", output_format="png")
    with pytest.raises(ServiceFailed, match=r"x: the returned bytes are not an image \(14 bytes, text \(an HTML"):
        check_format(b"<html>no</html>"[:14], cfg, "x")


def test_openai_b64_url_and_empty_data(tmp_path, api, data_dir):
    api.script["openai"] = ["429", "b64", "url", "empty"]
    ds, proc = _run(tmp_path, api, "openai", 3, "OPENAI_API_KEY")
    records = {r.index: r for r in check_records(ds, {})}
    assert [records[i].params["delivery"] for i in sorted(records)] == ["b64_json", "url"]
    assert "no data[0].b64_json or data[0].url" in failures(ds)[2]
    _no_key_anywhere(ds, proc)


def test_an_expired_download_link_fails_its_sample_and_a_dripping_reply_times_out(tmp_path, api, data_dir):
    """A 403 from the download host (no key sent there: an expired signed link) stopped the whole shard as 'the
    key was refused'; a reply sent a byte at a time held the sample far past `timeout`, which bounded each wait
    only; a header claiming 40000x40000 ended in OpenCV's traceback, recorded as a bug (7 Dec sweep). Now the
    first fails its sample, the second times out after `timeout` per attempt, the third is refused undecoded."""
    api.script["openai"] = ["url", "url", "url"]
    api.script["delivery"] = ["expired", "drip", "drip", "drip", "huge"]
    t0 = time.monotonic()
    ds, proc = _run(tmp_path, api, "openai", 3, "OPENAI_API_KEY")
    took = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr[-2000:]  # samples failed; the shard was not stopped (3)
    reasons = sorted(failures(ds).values())
    assert any("HTTP 403 on a request without the key (a download link expired?)" in r for r in reasons), reasons
    assert any("no response within 1s after 3 attempts" in r for r in reasons), reasons
    assert any("too large to decode (Image size (1600000000 pixels)" in r for r in reasons), reasons  # not a bug
    assert took < 25, took  # three attempts of ~1 s, not of 3 s each
    _no_key_anywhere(ds, proc)


def test_ready_names_the_missing_key_variable_not_a_value(tmp_path, monkeypatch):
    from synthfake.generators import Context, http_t2i

    monkeypatch.delenv("BFL_API_KEY", raising=False)
    ctx = Context(cache_dir=tmp_path, backend_opts={"http_t2i": {"provider": "bfl"}})
    assert http_t2i.ready(ctx).startswith("$BFL_API_KEY is not set")
    monkeypatch.setenv("BFL_API_KEY", KEY)
    assert http_t2i.ready(ctx) is None
    ctx.backend_opts["http_t2i"]["size"] = "1000x1000"
    assert "multiples of 32" in http_t2i.ready(ctx) and KEY not in http_t2i.ready(ctx)


def test_concurrency_slots_are_shared_and_bounded(tmp_path):
    with http_client.slot(tmp_path, 2) as a, http_client.slot(tmp_path, 2) as b:
        assert {a, b} == {0, 1}
        with pytest.raises(ServiceFailed, match="all 2 request slots stayed busy"):
            with http_client.slot(tmp_path, 2, wait_s=0.2):
                pass
    with http_client.slot(tmp_path, 2) as c:
        assert c == 0


def test_retry_after_takes_seconds_or_an_http_date():
    assert http_client.retry_after("3") == 3.0
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < http_client.retry_after(when) <= 30
    assert http_client.retry_after("soon") is None
