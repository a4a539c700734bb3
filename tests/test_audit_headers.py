"""Audit check 6 reads what file headers say of their writer (audit/headers.py): a fake set that differs from its
reals only in chroma subsampling, PIL mode, an EXIF or ICC block, a video's pixel format or colour tags FAILs on
that property; the same writer on both sides PASSes; headers are read on at most HEADER_CAP files a label.
Synthetic media only, seconds to run.
"""

from __future__ import annotations

import csv
import io

import av
import numpy as np
import pytest
from PIL import Image

from synthfake.audit import headers
from synthfake.audit.base import FAIL, PASS
from synthfake.audit.external import folder_confounds

N = 4  # files a side


def _picture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((96, 96), Image.BICUBIC))


def _icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0110] = "Camera 1"  # Model
    return exif.tobytes()


def _video(path, seed: int, pix_fmt: str = "yuv420p", x264: str = "") -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = pix_fmt
        if x264:
            s.options = {"x264-params": x264}
        for t in range(10):
            frame = av.VideoFrame.from_ndarray(np.roll(_picture(seed)[:64, :64], t, 1).copy(), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _folder(tmp_path, write_fake, write_real, ext: str):
    """N fakes and N reals of the same pictures, each side written by its own function; (folder, labels.csv)."""
    d = tmp_path / "set"
    d.mkdir()
    rows = []
    for k in range(N):
        for label, write in ((1, write_fake), (0, write_real)):
            name = f"{'fake' if label else 'real'}{k}.{ext}"
            write(d / name, k)
            rows.append((name, label))
    with open(d / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label"), *rows])
    return d, d / "labels.csv"


def _row(check, prop: str) -> dict:
    return next(r for r in check.details["properties"] if r["property"] == prop)


def _jpeg(**kw):
    def write(path, k):
        Image.fromarray(_picture(k)).save(path, "JPEG", quality=90, **kw)
    return write


def _png(mode: str = "RGB", **kw):
    def write(path, k):
        Image.fromarray(_picture(k)).convert(mode).save(path, "PNG", **kw)
    return write


@pytest.mark.parametrize("fake, real, ext, prop", [
    (_jpeg(subsampling=0), _jpeg(subsampling=2), "jpg", "image.subsampling"),  # 4:4:4 fakes, 4:2:0 reals
    (_jpeg(progressive=True), _jpeg(), "jpg", "image.progressive"),
    (_jpeg(), _jpeg(exif=_exif()), "jpg", "image.exif"),  # camera EXIF on the reals only
    (_png(icc_profile=_icc()), _png(), "png", "image.icc"),
    (_png("RGBA"), _png(), "png", "image.mode"),
])
def test_an_image_writer_setting_of_the_fakes_alone_fails(tmp_path, fake, real, ext, prop):
    folder, labels = _folder(tmp_path, fake, real, ext)
    check, skipped = folder_confounds(folder, labels, log=lambda m: None)
    assert not skipped
    row = _row(check, prop)
    assert row["auc"] in (0.0, 1.0) and row["status"] == FAIL, row
    assert check.status == FAIL and prop in check.summary
    for other in ("image.width", "image.height", "image.format"):
        assert _row(check, other)["auc"] == 0.5, other


@pytest.mark.parametrize("fake, real, prop", [
    ({"pix_fmt": "yuv444p"}, {}, "video.pix_fmt"),
    ({}, {"x264": "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv"}, "video.colorspace"),
])
def test_a_video_writer_setting_of_the_fakes_alone_fails(tmp_path, fake, real, prop):
    folder, labels = _folder(tmp_path, lambda p, k: _video(p, k, **fake), lambda p, k: _video(p, k, **real), "mp4")
    check, _ = folder_confounds(folder, labels, log=lambda m: None)
    row = _row(check, prop)
    assert row["auc"] in (0.0, 1.0) and row["status"] == FAIL, row
    assert _row(check, "video.width")["auc"] == 0.5


def test_one_writer_on_both_sides_passes(tmp_path):
    folder, labels = _folder(tmp_path, _jpeg(subsampling=2), _jpeg(subsampling=2), "jpg")
    check, _ = folder_confounds(folder, labels, log=lambda m: None)
    for prop in ("image.subsampling", "image.progressive", "image.exif", "image.icc", "image.mode",
                 "image.jpeg_quality"):
        assert _row(check, prop)["auc"] == 0.5, prop
    assert check.status == PASS


def test_headers_are_read_on_at_most_the_cap_of_each_label(tmp_path, monkeypatch):
    folder, labels = _folder(tmp_path, _jpeg(subsampling=0), _jpeg(subsampling=2), "jpg")
    monkeypatch.setattr(headers, "HEADER_CAP", 2)
    headers._image_header.cache_clear()
    check, _ = folder_confounds(folder, labels, log=lambda m: None)
    row = _row(check, "image.subsampling")
    assert (row["n_real"], row["n_fake"]) == (2, 2) and row["auc"] == 1.0  # 2 of 4 a side, still telling
    assert headers._image_header.cache_info().currsize == 4
    assert _row(check, "image.width")["n_real"] == N  # record properties are not capped


def test_an_unreadable_header_gives_nothing(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" * 4)
    assert headers.image_header(str(tmp_path / "x.jpg")) == {}
    assert headers.video_header(str(tmp_path / "x.mp4")) == {}
    buf = io.BytesIO()
    Image.fromarray(_picture(0)).save(buf, "JPEG", quality=77)
    (tmp_path / "q.jpg").write_bytes(buf.getvalue())
    assert headers.jpeg_quality(tmp_path / "q.jpg") == 77
    Image.fromarray(_picture(0)).save(tmp_path / "q.jpg", "JPEG", quality=60)  # rewritten: read again
    assert headers.jpeg_quality(tmp_path / "q.jpg") == 60
