"""`gen weights download`: against a local HTTP server on 127.0.0.1 that serves a small file (with Range), a
truncated file (the connection closes half-way, then a resume), a wrong file and a 404; offline is one line;
a file inside a zip; every model backend pins the published sha256 where one exists."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import gen

from synthfake import weights
from synthfake.weights import WeightSpec
from synthfake.weights_fetch import FetchFailed, fetch_file

# 100 kB (102400 bytes) that read as an ONNX file's top-level fields: ir_version 7, then a graph of 102394 bytes
SMALL = b"\x08\x07\x3a\xfa\x9f\x06" + (bytes(range(256)) * 400)[:102394]
OTHER = b"not the model" * 1000


def _zip(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"pack/{member}", data)
        z.writestr("pack/readme.txt", b"other member")
    return buf.getvalue()


ZIP = _zip("model.onnx", SMALL)


class Files(BaseHTTPRequestHandler):
    """/small.onnx and /pack.zip honour Range; /truncated.onnx sends half of SMALL then closes (first time only);
    /wrong.onnx serves other bytes; anything else is a 404. Every request's Range header is logged."""

    log: list = []
    truncated_once = threading.Event()

    def log_message(self, *a):  # quiet
        pass

    def _send(self, data: bytes, cut: int | None = None):
        rng = self.headers.get("Range")
        type(self).log.append((self.path, rng))
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        if start >= len(data) and rng:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:cut])
        if cut is not None:
            self.wfile.flush()
            self.connection.shutdown(2)
            self.close_connection = True

    def do_GET(self):
        if self.path in ("/small.onnx", "/wav2lip_96.onnx"):
            self._send(SMALL)
        elif self.path == "/pack.zip":
            self._send(ZIP)
        elif self.path == "/truncated.onnx":
            first = not type(self).truncated_once.is_set()
            type(self).truncated_once.set()
            self._send(SMALL, cut=len(SMALL) // 2 if first else None)
        elif self.path == "/wrong.onnx":
            self._send(OTHER)
        else:
            self.send_error(404, "Not Found")


@pytest.fixture()
def server():
    Files.log = []
    Files.truncated_once.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(weights.ENV_DIR, raising=False)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_small_file_is_checked_then_renamed_into_the_folder(server, tmp_path):
    spec = WeightSpec("model.onnx", f"{server}/small.onnx", sha(SMALL), "test")
    got = fetch_file(spec, tmp_path / "w", show=False)
    assert (tmp_path / "w" / "model.onnx").read_bytes() == SMALL and got.verified is True
    assert not list((tmp_path / "w").glob("*.part"))
    again = fetch_file(spec, tmp_path / "w", show=False)  # in place: checked, not fetched again
    assert again.how == "present" and len(Files.log) == 1


def test_truncated_download_keeps_its_part_and_resumes_with_a_range_request(server, tmp_path):
    spec = WeightSpec("model.onnx", f"{server}/truncated.onnx", sha(SMALL), "test")
    with pytest.raises(FetchFailed, match=r"interrupted at 51200 of 102400 bytes.*run the command again to resume"):
        fetch_file(spec, tmp_path, show=False)
    assert (tmp_path / "model.onnx.part").stat().st_size == len(SMALL) // 2 and not (tmp_path / "model.onnx").exists()
    fetch_file(spec, tmp_path, show=False)
    assert Files.log[-1] == ("/truncated.onnx", f"bytes={len(SMALL) // 2}-")
    assert (tmp_path / "model.onnx").read_bytes() == SMALL and not (tmp_path / "model.onnx.part").exists()


def test_wrong_file_is_removed_and_never_lands_in_the_folder(server, tmp_path):
    spec = WeightSpec("model.onnx", f"{server}/wrong.onnx", sha(SMALL), "the publisher's list")
    with pytest.raises(FetchFailed) as e:
        fetch_file(spec, tmp_path, show=False)
    line = str(e.value)
    assert "\n" not in line and f"sha256 {sha(OTHER)[:16]}..." in line and f"pinned {sha(SMALL)[:16]}..." in line
    assert "(the publisher's list)" in line and "removed" in line
    assert not list(tmp_path.iterdir())


def test_unpublished_hash_is_kept_as_unverified(server, tmp_path):
    got = fetch_file(WeightSpec("model.onnx", f"{server}/small.onnx"), tmp_path, show=False)
    assert got.verified is None and "unverified" in got.line()


def test_404_and_offline_are_one_line_each(server, tmp_path):
    with pytest.raises(FetchFailed, match=r"/gone.onnx: HTTP 404 Not Found$") as e:
        fetch_file(WeightSpec("model.onnx", f"{server}/gone.onnx"), tmp_path, show=False)
    assert not e.value.offline
    with pytest.raises(FetchFailed, match=r"cannot reach 127.0.0.1:9 .*offline\?") as e:  # nothing listens on port 9
        fetch_file(WeightSpec("model.onnx", "http://127.0.0.1:9/model.onnx"), tmp_path, show=False)
    assert e.value.offline and not list(tmp_path.iterdir())


def test_a_file_inside_a_zip_is_taken_from_the_checked_archive(server, tmp_path):
    spec = WeightSpec("model.onnx", f"{server}/pack.zip", sha(SMALL), "test", archive="model.onnx",
                      archive_sha256=sha(ZIP))
    fetch_file(spec, tmp_path, show=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    bad = WeightSpec("other.onnx", f"{server}/pack.zip", sha(SMALL), "test", archive="model.onnx",
                     archive_sha256="0" * 64)
    with pytest.raises(FetchFailed, match="pack.zip.part: sha256 .* differs from the pinned 0000"):
        fetch_file(bad, tmp_path, show=False)


def test_cli_fetches_a_backend_through_a_mirror_and_reports_each_file(server, tmp_path):
    """liveportrait's four files from the mirror: the test server holds none of them (404), which is one line per
    file and exit 1; offline is exit 3 after one line; an unknown backend is exit 2 with the nearest name."""
    proc = gen("weights", "download", "liveportrait", "--weights-dir", tmp_path / "w", "--mirror", server,
               "--quiet", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 5, proc.stderr
    assert all(ln.startswith("liveportrait: live_portrait_") and "HTTP 404" in ln for ln in lines[:4])
    proc = gen("weights", "download", "inswapper", "--weights-dir", tmp_path / "w", "--mirror", "http://127.0.0.1:9",
               check=False)
    assert proc.returncode == 3 and "cannot reach 127.0.0.1:9" in proc.stderr
    assert "1 more file(s) not tried" in proc.stderr
    proc = gen("weights", "download", "inswaper", check=False)
    assert proc.returncode == 2 and "did you mean 'inswapper'?" in proc.stderr
    for bad in ("http://[::1", "127.0.0.1:9", "ftp://x/y", "http://h:99999/", f"file://{tmp_path}/none"):
        proc = gen("weights", "download", "wav2lip", "--weights-dir", tmp_path / "w", "--mirror", bad, check=False)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: --mirror {bad}: "), proc.stderr  # 7 Dec
    proc = gen("weights", "download", "morph", check=False)
    assert proc.returncode == 2 and "loads no weights files" in proc.stderr


def test_cli_puts_an_unverified_file_in_place_from_the_mirror(server, tmp_path):
    """wav2lip publishes no sha256: the file lands, named unverified; a second run finds it present."""
    args = ("weights", "download", "wav2lip", "--backend-opt", "wav2lip.model=wav2lip_96", "--weights-dir",
            tmp_path / "w", "--mirror", f"{server}/", "--quiet")
    proc = gen(*args)
    assert proc.stdout.strip() == (f"wav2lip: downloaded {tmp_path / 'w' / 'wav2lip_96.onnx'} (no published sha256: "
                                   f"recorded as unverified)")
    assert (tmp_path / "w" / "wav2lip_96.onnx").read_bytes() == SMALL
    assert gen(*args).stdout.startswith("wav2lip: present ")


def test_every_model_backend_pins_what_is_published():
    """The published sha256 values this project found (README 'Weights'): a backend may not lose one."""
    from synthfake import generators
    from synthfake.cli_weights import model_backends

    ctx = generators.Context(cache_dir=".")
    pinned = {s.name: s.sha256 for b in model_backends() for s in generators.get(b).weight_specs(ctx)}
    assert set(model_backends()) == {"inswapper", "liveportrait", "wav2lip", "diffusers_t2i"}
    assert pinned["inswapper_128.onnx"] == "a290273ed497312095dac48cdef20feec9d5208298223dd01288ab202b54bea7"
    assert pinned["w600k_r50.onnx"] == "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43"
    assert pinned["live_portrait_feature_extractor.onnx"].startswith("980d26af")
    assert pinned["live_portrait_stitcher.onnx"].startswith("c6683427")
    assert pinned["live_portrait_generator.onnx"].startswith("db927411")
    assert pinned["live_portrait_motion_extractor.onnx"] is None and pinned["wav2lip_gan_96.onnx"] is None
    swapper = generators.get("inswapper").SWAPPER
    assert "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af" in swapper.published()


def test_a_hub_pipeline_is_a_snapshot_checked_against_the_hubs_lfs_sha256(tmp_path, monkeypatch):
    """diffusers_t2i's folder: huggingface_hub's snapshot of the repo's diffusers files (not the single-file
    checkpoint at its root), each LFS file checked against the sha256 the hub states; one that differs is
    removed and named. huggingface_hub itself is replaced by a stand-in that serves two files."""
    from types import SimpleNamespace

    import huggingface_hub

    files = {"model_index.json": b"{}", "transformer/model.safetensors": SMALL, "vae/model.safetensors": OTHER,
             "flux1-schnell.safetensors": b"root checkpoint"}
    stated = {"transformer/model.safetensors": sha(SMALL), "vae/model.safetensors": sha(SMALL),
              "flux1-schnell.safetensors": sha(b"root checkpoint")}
    siblings = [SimpleNamespace(rfilename=f, lfs=SimpleNamespace(sha256=stated[f]) if f in stated else None)
                for f in files]
    asked = {}

    class Api:
        def model_info(self, repo, files_metadata=False):
            return SimpleNamespace(sha="c0ffee" * 6 + "abcd", siblings=siblings)

    def snapshot_download(repo, revision, local_dir, allow_patterns):
        asked.update(repo=repo, revision=revision, patterns=allow_patterns)
        for f in allow_patterns:
            (local_dir / f).parent.mkdir(parents=True, exist_ok=True)
            (local_dir / f).write_bytes(files[f])

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    from synthfake.weights_fetch import fetch

    spec = WeightSpec("FLUX.1-schnell/model_index.json", "hub", hub="black-forest-labs/FLUX.1-schnell")
    with pytest.raises(FetchFailed, match=r"vae/model.safetensors: sha256 .* differs from the pinned .*LFS pointer"):
        fetch(spec, tmp_path, show=False)
    assert asked["revision"].startswith("c0ffee") and "flux1-schnell.safetensors" not in asked["patterns"]
    local = tmp_path / "FLUX.1-schnell"
    assert (local / "transformer" / "model.safetensors").is_file()
    assert not (local / "vae" / "model.safetensors").exists()
    assert not (local / "model_index.json").exists()  # not a pipeline (nor `present` to a rerun) until all match
    files["vae/model.safetensors"] = SMALL  # the rerun gets the right bytes
    assert fetch(spec, tmp_path, show=False).verified is True and (local / "model_index.json").is_file()


def test_an_offline_hub_download_is_one_line_whatever_the_http_client(tmp_path, monkeypatch):
    """huggingface_hub on httpx raises errors that are not OSErrors: `gen weights download` offline printed a
    150-line traceback for the FLUX pipeline (exit 1) where the other backends said one line (exit 3)."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    from synthfake.weights_fetch import FetchFailed, fetch_hub

    class ConnectError(Exception):
        pass

    ConnectError.__module__ = "httpx"

    def offline(self, *a, **k):
        raise ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", offline)
    spec = weights.WeightSpec("FLUX/model_index.json", "https://huggingface.co/x/y", hub="x/y")
    with pytest.raises(FetchFailed, match=r"cannot reach huggingface.co \(ConnectError\): offline\?") as e:
        fetch_hub(spec, tmp_path)
    assert e.value.offline
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # a bug stays a bug, not "offline?"
        fetch_hub(spec, tmp_path)


def test_a_page_saved_as_an_unpinned_file_is_removed_not_put_in_place(tmp_path):
    """A mirror (or a proxy) that answers with its HTML page: wav2lip's file, which has no published sha256, was
    put in place and `gen backends` called it ready."""
    from synthfake.weights_fetch import FetchFailed, _check

    part = tmp_path / "wav2lip_gan_96.onnx.part"
    part.write_bytes(b"<!DOCTYPE html><p>Please log in to the proxy</p>")
    with pytest.raises(FetchFailed, match="wav2lip_gan_96.onnx: the file from http://m/x is a text page"):
        _check(part, {}, "wav2lip_gan_96.onnx", "http://m/x")
    assert not part.exists()
