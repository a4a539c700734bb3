"""Text-to-image through hosted APIs over HTTP: Black Forest Labs' FLUX API and OpenAI-compatible servers.

Contracts, as read in the sources:
- BFL (black-forest-labs/flux src/flux/api.py and docs.bfl.ai): POST {base}/v1/{model} with header `x-key`
  and JSON {prompt, width, height, seed}; the reply holds `id` and `polling_url`; GET the polling URL (with
  `x-key`) until `status` is "Ready" ("Pending" while it runs; "Request Moderated", "Content Moderated",
  "Error", "Task not found" end it); `result.sample` is the image URL, fetched without the key.
- OpenAI images API (platform.openai.com/docs/api-reference/images, spoken by many providers and local
  servers): POST {base}/v1/images/generations with `Authorization: Bearer KEY` and JSON {model, prompt, n,
  size[, response_format]}; `data[0]` holds `b64_json` or `url`.
Both are asked for PNG (`output_format` "png", BFL's and gpt-image's parameter; `--backend-opt
http_t2i.output_format=` omits it for servers that reject it). What came back is identified by its magic bytes
and recorded: a lossy format (JPEG, lossy WebP) is refused by default, because JPEG artefacts inside a PNG are a
compression shortcut the other backends' fakes do not have; `http_t2i.lossy=convert` keeps it, decoded to PNG.
What decides the image (provider, url, model, size, formats) is a backend option recorded in plan.json
(OPTIONS); how the calls go (timeouts, retries, concurrency, which variable holds the key, where else the key may
go) is a run option (`Option(run=True)`, given the same way, not recorded: a dataset may be resumed with other
values). The key only comes from the variable named by `http_t2i.key_env` (default BFL_API_KEY /
OPENAI_API_KEY) and never enters records, failures or logs.
The key goes only to the origin (scheme, host, port) of the `url` option, to origins listed in
`http_t2i.key_origins`, and, with the default BFL URL, to https://*.bfl.ai (its regional polling hosts);
never along a redirect to another origin. Everything leaving this adapter passes `http_client.guard`, and every
field of the record is scrubbed of the key. An image of another size than the one asked for is refused.
Requests retry on 429/5xx/timeouts with backoff honouring Retry-After, at most `http_t2i.concurrency` in flight
per dataset and host; a request that still fails is the sample's recorded failure.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from synthfake.generators.common import http_client, onnx_models
from synthfake.errors import BackendNotReady, ServiceFailed, not_ready_reason
from synthfake.generators import Context, Generated, Option, options
from synthfake.generators.common import prompts
from synthfake.generators.common.http_client import Policy, json_body, request, where
from synthfake.writer import save_image

TYPE, ROLES = prompts.TYPE, prompts.ROLES  # what text-to-image makes, and no source drawn
VERSION = "1.0"
PROVIDERS = {"bfl": ("https://api.bfl.ai", "flux-pro-1.1", "BFL_API_KEY"),
             "openai": ("https://api.openai.com", "gpt-image-1", "OPENAI_API_KEY")}
WAITING = ("Pending", "Queued", "Processing")
LOSSY = ("refuse", "convert")
LOSSLESS = ("png", "webp-lossless")
SCHEMES = ("http", "https")
MAX_SIDE = 16384
OPTIONS = {  # --backend-opt http_t2i.KEY=VALUE: what decides the image, recorded in plan.json
    "provider": Option("bfl", str, tuple(PROVIDERS), "which API the server speaks"),
    "url": Option("", str, (), "base URL, http(s)://host[:port][/path] (default: the provider's)"),
    "model": Option("", str, (), "model name (default: the provider's)"),
    "size": Option("1024x1024", str, (), "WIDTHxHEIGHT asked for (and required of the reply)"),
    "response_format": Option("", str, ("", "b64_json", "url"), "OpenAI response_format; empty: not sent"),
    "output_format": Option("png", str, ("png", "webp", "jpeg", ""), "asked-for format; empty: not sent"),
    "lossy": Option("refuse", str, LOSSY, "a lossy reply: refuse (a failure) or convert to PNG"),
    # run options: how the calls go, not what comes back; not recorded in plan.json
    "timeout": Option(60.0, float, (), "seconds a request may take", run=True, low=0.1, high=3600),
    "retries": Option(5, int, (), "retries of a request after the first attempt", run=True, low=0, high=100),
    "backoff": Option(1.0, float, (), "exponential backoff base, seconds", run=True, low=0, high=600),
    "max_wait": Option(120.0, float, (), "longest wait between attempts, seconds", run=True, low=0, high=3600),
    "concurrency": Option(4, int, (), "requests in flight per dataset and host", run=True, low=1, high=256),
    "poll_interval": Option(0.5, float, (), "seconds between polls (BFL)", run=True, low=0.01, high=600),
    "deadline": Option(600.0, float, (), "longest wait for one image, seconds (BFL)", run=True, low=1,
                       high=86400),
    "key_env": Option("", str, (), "variable holding the key (default BFL_API_KEY / OPENAI_API_KEY)", run=True),
    "key_origins": Option("", str, (), "other origins the key may go to, comma-separated", run=True),
}


@dataclass
class Config:
    """Where and how to call: the http_t2i options of the plan (what decides the image) and of the run (key
    variable, throughput: timeouts, retries, concurrency), which do not change the image."""

    provider: str
    url: str
    model: str
    key_env: str
    width: int
    height: int
    policy: Policy
    concurrency: int
    poll_interval: float
    deadline: float
    response_format: str | None
    output_format: str | None
    lossy: str
    key_domain: str | None = None  # provider domain whose https subdomains may get the key (default URL only)
    key_origins: str = ""  # extra origins the user allows the key to go to (http_t2i.key_origins)


def check_url(url: str, what: str) -> str:
    """An http(s) URL with a host and a valid port, else BackendNotReady naming the option."""
    u = urlsplit(url)
    try:
        port = u.port
    except ValueError:
        port = -1
    if u.scheme.lower() not in SCHEMES or not u.hostname or port == -1 or port == 0:
        raise BackendNotReady(f"{what}={url!r}: expected http(s)://host[:port][/path] with a port of 1-65535")
    if u.username is not None or u.password is not None:  # the URL goes into plan.json: no secret may
        bare = u._replace(netloc=u.netloc.rsplit("@", 1)[1]).geturl()
        raise BackendNotReady(f"{what}={bare!r} with a user name or password in it: the URL is written into "
                              f"plan.json; give the credential through the provider's key variable instead")
    if u.query or u.fragment or url.rstrip().endswith(("?", "#")):  # not echoed: a query may hold a key
        bare = u._replace(query="", fragment="").geturl()
        raise BackendNotReady(f"{what}={bare!r} with a query or fragment after it: the endpoint's path is appended "
                              f"to the URL, which is written into plan.json; give the bare base URL (a key goes in "
                              f"the provider's key variable)")
    return url


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BackendNotReady(f"http_t2i.size={text!r}: expected WIDTHxHEIGHT, e.g. 1024x1024") from None
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise BackendNotReady(f"http_t2i.size={text!r}: each side must be 1-{MAX_SIDE} pixels")
    return width, height


def config(ctx: Context) -> Config:
    """The call's settings from the plan's and the run's options, checked (one line naming the option)."""
    o = options(__name__, ctx)
    provider = o["provider"]
    url, model, key_env = PROVIDERS[provider]
    width, height = _size(o["size"])
    if provider == "bfl" and (width % 32 or height % 32):
        raise BackendNotReady(f"http_t2i.size={o['size']!r}: the BFL API takes multiples of 32")
    base = check_url(o["url"], "http_t2i.url").rstrip("/") if o["url"] else url
    for origin in filter(None, (x.strip() for x in o["key_origins"].split(","))):
        check_url(origin, "http_t2i.key_origins")
    key_env = o["key_env"] or key_env
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise BackendNotReady(f"http_t2i.key_env={key_env!r}: expected an environment variable's name")
    policy = Policy(timeout=o["timeout"], retries=o["retries"], backoff=o["backoff"], max_wait=o["max_wait"])
    domain = "bfl.ai" if provider == "bfl" and base == url else None
    return Config(provider, base, o["model"] or model, key_env, width, height, policy, o["concurrency"],
                  o["poll_interval"], o["deadline"], o["response_format"] or None, o["output_format"] or None,
                  o["lossy"], domain, o["key_origins"])


def _trusted(cfg: Config):
    return http_client.key_origins(cfg.url, cfg.key_origins, cfg.key_domain)


def ready(ctx: Context) -> str | None:
    why = onnx_models.missing_modules("requests") or not_ready_reason(config, ctx)
    if why:
        return why
    cfg = config(ctx)
    if not os.environ.get(cfg.key_env):
        return (f"${cfg.key_env} is not set (the {cfg.provider} API key; --backend-opt http_t2i.key_env=NAME reads "
                f"another variable)")
    return not_ready_reason(http_client.api_key, os.environ.get(cfg.key_env), cfg.key_env)


@lru_cache(maxsize=1)
def _session():
    import requests

    return requests.Session()


def _download(url: str, cfg: Config, key: str) -> tuple[bytes, int]:
    r, n = request(_session(), "GET", url, cfg.policy, key)
    return r.content, n


def bfl(cfg: Config, key: str, text: str, seed: int) -> tuple[bytes, dict]:
    """Submit, poll the returned polling URL until Ready, fetch result.sample."""
    url = f"{cfg.url}/v1/{cfg.model}"
    headers = {"x-key": key, "accept": "application/json"}
    body = {"prompt": text, "width": cfg.width, "height": cfg.height, "seed": int(seed)}
    if cfg.output_format:
        body["output_format"] = cfg.output_format
    trusted = _trusted(cfg)
    r, attempts = request(_session(), "POST", url, cfg.policy, key, trusted, json=body, headers=headers)
    sub = json_body(r, url, key)
    rid = sub.get("id")
    poll = sub.get("polling_url") or (f"{cfg.url}/v1/get_result?id={rid}" if rid else None)
    if not isinstance(rid, str) or not isinstance(poll, str):
        raise ServiceFailed(f"{where(url)}: malformed response (no 'id' / 'polling_url')")
    if not trusted(poll):
        raise ServiceFailed(f"{where(url)}: polling URL {where(poll)} is on another origin; the key is not sent there")
    end, polls = time.monotonic() + cfg.deadline, 0
    while True:
        r, n = request(_session(), "GET", poll, cfg.policy, key, trusted, headers=headers)
        attempts, polls = attempts + n, polls + 1
        res = json_body(r, poll, key)
        status = res.get("status")
        if status == "Ready":
            sample = (res.get("result") or {}).get("sample") if isinstance(res.get("result"), dict) else None
            if not isinstance(sample, str):
                raise ServiceFailed(f"{where(poll)}: malformed response (status Ready without result.sample)")
            data, n = _download(sample, cfg, key)
            return data, {"request_id": rid, "polls": polls, "attempts": attempts + n, "seed": int(seed)}
        if status not in WAITING:
            raise ServiceFailed(f"{where(poll)}: generation ended with status {status!r}")
        if time.monotonic() > end:
            raise ServiceFailed(f"{where(poll)}: not ready after {cfg.deadline:g}s (last status {status!r})")
        time.sleep(cfg.poll_interval)


def openai(cfg: Config, key: str, text: str) -> tuple[bytes, dict]:
    """POST /v1/images/generations; the image comes as b64_json or as a URL to fetch."""
    url = f"{cfg.url}/v1/images/generations"
    body = {"model": cfg.model, "prompt": text, "n": 1, "size": f"{cfg.width}x{cfg.height}"}
    if cfg.response_format:
        body["response_format"] = cfg.response_format
    if cfg.output_format:
        body["output_format"] = cfg.output_format
    r, attempts = request(_session(), "POST", url, cfg.policy, key, _trusted(cfg), json=body,
                          headers={"Authorization": f"Bearer {key}"})
    data = json_body(r, url, key).get("data")
    item = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    if isinstance(item.get("b64_json"), str):
        try:
            return base64.b64decode(item["b64_json"], validate=True), {"attempts": attempts, "delivery": "b64_json"}
        except (binascii.Error, ValueError):
            raise ServiceFailed(f"{where(url)}: malformed response (data[0].b64_json is not base64)") from None
    if isinstance(item.get("url"), str):
        content, n = _download(item["url"], cfg, key)
        return content, {"attempts": attempts + n, "delivery": "url"}
    raise ServiceFailed(f"{where(url)}: malformed response (no data[0].b64_json or data[0].url)")


def image_format(data: bytes) -> str:
    """The reply's container from its magic bytes: png, jpeg, webp-lossless, webp-lossy, gif or unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp-lossless" if data[12:16] == b"VP8L" else "webp-lossy"  # VP8X: extended, treated as lossy
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "unknown"


def check_format(data: bytes, cfg: Config, what: str) -> str:
    """The returned format; a lossy one is refused unless the option lossy=convert."""
    fmt = image_format(data)
    if fmt == "unknown":  # an HTML error page or JSON as the "image": no lossy option can help
        head = data[:200].lstrip()[:1]
        kind = "text (an HTML or JSON page?)" if head in (b"<", b"{", b"[") else "not a PNG, JPEG, WebP or GIF"
        raise ServiceFailed(f"{what}: the returned bytes are not an image ({len(data)} bytes, {kind})")
    if fmt not in LOSSLESS and cfg.lossy == "refuse":
        raise ServiceFailed(f"{what}: returned a {fmt} image, not lossless (asked for output_format "
                           f"{cfg.output_format!r}); refused, as its compression would be a shortcut "
                           f"(--backend-opt http_t2i.lossy=convert keeps it)")
    return fmt


def decode(data: bytes, what: str) -> np.ndarray:
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error as e:  # OpenCV's own pixel limit, past the header check: the service's failure, not a bug
        raise ServiceFailed(f"{what}: the returned image cannot be decoded ({str(e).strip().splitlines()[-1][:120]})")
    if img is None:
        raise ServiceFailed(f"{what}: the returned bytes are not a decodable image ({len(data)} bytes)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def header_size(data: bytes, what: str) -> tuple[int, int] | None:
    """(width, height) as the image's header states it, read without decoding (None where Pillow cannot say): a
    12000x12000 reply took 1.4 GB to decode before its size was compared, and a header claiming 40000x40000
    ended in OpenCV's traceback (7 Dec sweep)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Image.DecompressionBombError as e:  # Pillow's own refusal names the size it read
        raise ServiceFailed(f"{what}: the returned image is too large to decode ({str(e)[:120]})") from None
    except (OSError, ValueError, SyntaxError):
        return None


def check_size(size: tuple[int, int], cfg: Config, what: str) -> None:
    """The image must have the size asked for: a server that answers another (a 1x1 stand-in image, a default
    size) did not make the sample the plan describes."""
    width, height = size
    if (width, height) != (cfg.width, cfg.height):
        raise ServiceFailed(f"{what}: returned a {width}x{height} image for the {cfg.width}x{cfg.height} asked "
                            f"(http_t2i.size); refused")


def generate(sample, sources, out_stem: Path, ctx: Context) -> Generated:
    cfg = config(ctx)
    key = http_client.api_key(os.environ.get(cfg.key_env), cfg.key_env)
    prompt = prompts.sample(sample.seed)
    t0 = time.perf_counter()
    with http_client.guard(key), http_client.slot(Path(ctx.cache_dir) / "http_slots", cfg.concurrency):
        data, info = bfl(cfg, key, prompt.text, sample.seed) if cfg.provider == "bfl" else openai(cfg, key, prompt.text)
    what = f"{cfg.provider} {cfg.model}"
    fmt = check_format(data, cfg, what)
    if (stated := header_size(data, what)) is not None:
        check_size(stated, cfg, what)  # before decoding: a huge reply is refused without being decoded
    rgb = decode(data, what)
    check_size((rgb.shape[1], rgb.shape[0]), cfg, what)
    params = {"prompt": prompt.text, "prompt_attributes": prompt.attributes(), "provider": cfg.provider,
              "endpoint": where(cfg.url), "model": cfg.model, "requested_size": f"{cfg.width}x{cfg.height}",
              "height": int(rgb.shape[0]), "width": int(rgb.shape[1]), "returned_bytes": len(data),
              "request_s": round(time.perf_counter() - t0, 3), "output_format": cfg.output_format,
              "returned_format": fmt, "converted_to_png": fmt != "png", **info}
    # every field of the record, not only those copied from a reply (a request id, a status), holds no key form
    return Generated(save_image(out_stem, rgb), http_client.scrub_obj(params, key), 1, 1, {})
