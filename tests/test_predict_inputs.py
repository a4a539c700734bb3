"""`gen detect predict` and the folder it scores: an --out that would replace an input or cannot be written is one
line before scoring; files left out (not media, macOS zip leftovers, not in the sheet) are counted in one line; a
sheet's key that fits several files says so, one written with the folder's own name or a leading '/' finds its
file, and a name with leading or trailing spaces survives the submission read back as a sheet."""

from __future__ import annotations

import csv
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from synthfake import checks

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny random ViT (32 px), saved as `gen detect train` saves one; fallback label 1."""
    from transformers import ViTForImageClassification

    from synthfake.detector.meta import DetectorMeta
    from synthfake.detector.model import save_detector, tiny_config

    d = tmp_path_factory.mktemp("model") / "M"
    save_detector(ViTForImageClassification(tiny_config(32)).eval(), DetectorMeta(image_size=32, frames=2,
                                                                                  fallback_label=1), d)
    return d


def predict_cli(model_dir, inp, out, *more):
    """`gen detect predict` in this process: (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    args = ["detect", "predict", model_dir, inp, "--out", out, "--runtime", "torch", "--workers", 0, "--quiet", *more]
    r = CliRunner().invoke(app, [str(a) for a in args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_an_out_that_is_an_input_image_is_refused_before_scoring(model, data_dir, tmp_path):
    """`--out in/b.jpg` replaced the (read-only) picture with the CSV, exit 0; now one line, nothing written,
    however the path is spelled (through a linked folder too). A submission.csv inside the folder stays allowed,
    and so does a rerun that finds it there."""
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "a.jpg")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "b.jpg")
    os.chmod(inp / "b.jpg", stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    before = (inp / "b.jpg").read_bytes()
    os.symlink(inp, tmp_path / "link")
    for out in (inp / "b.jpg", tmp_path / "link" / "b.jpg", tmp_path / "link" / ".." / "in" / "b.jpg"):
        code, _, err = predict_cli(model, inp, out)
        assert code == 2, err
        assert f"--out {out}: is {inp / 'b.jpg'}, an image under INPUT_DIR" in err and len(err.splitlines()) == 1, err
        assert (inp / "b.jpg").read_bytes() == before and not (inp / "b_probs.csv").exists()
    for _ in range(2):  # the second run finds the first one's CSVs in the folder: not media, passed over quietly
        code, _, err = predict_cli(model, inp, inp / "submission.csv")
        assert code == 0, err
        assert [r["filename"] for r in _rows(inp / "submission.csv")] == ["a.jpg", "b.jpg"]
        assert "passed over" not in err, err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_out_that_cannot_be_written_is_refused_before_scoring(tmp_path):
    """/proc passes os.access for root, and the write failed only after the whole folder was scored; the output
    check every command shares (checks.output_file) now makes and removes a file there. The model folder here is
    not even a model: the --out line comes before it."""
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.jpg").write_bytes(b"not really")
    for out in ("/proc/sub.csv", "/proc/new/sub.csv"):
        code, _, err = predict_cli(tmp_path / "no_model", inp, out)
        assert code == 2 and "no_model" not in err, err
        assert f"--out {out}: cannot write in /proc (no file can be made there)" in err, err
    checks.output_file(tmp_path / "fine.csv", "--out")
    assert sorted(os.listdir(inp)) == ["a.jpg"] and os.listdir(tmp_path) == ["in"]  # nothing left behind


def test_files_left_out_are_counted_in_one_line(model, data_dir, tmp_path):
    """Files of other extensions (.mpg, .ts, .xyz, ...) were skipped without a word; macOS's __MACOSX/ and ._name
    files got rows with the fallback label; media files a sheet does not list were ignored without a word. Each
    is now counted in one line (up to 3 examples), and the macOS leftovers get no row."""
    inp = tmp_path / "in"
    (inp / "__MACOSX").mkdir(parents=True)
    for n in ("a.jpg", "b.jpg", "c.png", "d.jpg", "e.jpg"):
        shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / n)
    for n in ("x.mpg", "y.ts", "z.xyz", "notes.txt"):
        (inp / n).write_bytes(b"x")
    (inp / "._a.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (inp / "__MACOSX" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    code, _, err = predict_cli(model, inp, tmp_path / "sub.csv")
    assert code == 0, err
    assert [r["filename"] for r in _rows(tmp_path / "sub.csv")] == ["a.jpg", "b.jpg", "c.png", "d.jpg", "e.jpg"]
    said = [ln for ln in err.splitlines() if "passed over" in ln]
    assert said == [f"{inp}: passed over 6 file(s), not scored: 4 not an image or video by extension (notes.txt, "
                    "x.mpg, y.ts, ...); 2 macOS zip leftover(s): __MACOSX/ or AppleDouble ._ files (._a.jpg, "
                    "__MACOSX/._a.jpg)"], err
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("filename,label\nb.jpg,0\n")
    code, _, err = predict_cli(model, inp, tmp_path / "sub2.csv", "--sample-submission", sheet)
    assert code == 0, err
    assert f"{inp}: 4 image or video file(s) not listed in {sheet}, not scored (a.jpg, c.png, d.jpg, ...)" in err, err
    assert [r["filename"] for r in _rows(tmp_path / "sub2.csv")] == ["b.jpg"]


def test_a_key_with_the_folder_name_or_a_leading_slash_finds_its_file(tmp_path):
    """'odd/cmyk.jpg' (INPUT_DIR odd), '/cmyk.jpg' and the file's absolute path were 'not found'; the key as
    written still comes first (a subfolder named like the folder)."""
    from synthfake.detector.inputs import find_listed, index_files

    root = tmp_path / "odd"
    (root / "sub").mkdir(parents=True)
    (root / "odd").mkdir()
    files = [root / "cmyk.jpg", root / "sub" / "good.jpg", root / "odd" / "inner.jpg", root / "odd" / "cmyk.jpg"]
    for p in files:
        p.write_bytes(b"x")
    index = index_files(sorted(files), root)
    for key, want in (("odd/sub/good.jpg", "sub/good.jpg"), ("/cmyk.jpg", "cmyk.jpg"),
                      ("/sub/good.jpg", "sub/good.jpg"),
                      ("ODD/sub/good.jpg", "sub/good.jpg"), (str(root / "sub" / "good.jpg"), "sub/good.jpg"),
                      ("odd/inner.jpg", "odd/inner.jpg"), ("odd/odd/inner.jpg", "odd/inner.jpg"),
                      ("odd/cmyk.jpg", "odd/cmyk.jpg"), ("/odd/sub/good.jpg", "sub/good.jpg")):
        got = find_listed(index, key)
        assert got is not None and got.relative_to(root).as_posix() == want, (key, got)
    assert find_listed(index, "other/cmyk.jpg") is None
    from synthfake.detector.inputs import why_missing

    (root / "._cmyk.jpg").write_bytes(b"x")
    (root / "notes.txt").write_text("x")
    assert why_missing("/etc/passwd", root, None) == f"not found under {root}"  # outside the folder: no look
    assert why_missing("./notes.txt", root, None) == "is not an image or video file by its extension"
    assert why_missing("._cmyk.jpg", root, None).startswith("is a macOS zip leftover")


def test_a_sheet_key_in_composed_unicode_finds_a_file_named_in_decomposed_form(tmp_path):
    """macOS names files in NFD ('e' + combining accent, Hangul as jamo); a sample sheet typed elsewhere is NFC. The
    two look the same and differ byte for byte: the file was 'not found' and got the fallback."""
    import unicodedata

    from synthfake.detector.inputs import find_listed, index_files

    root = tmp_path / "테스트"
    names = ["photo é s42.jpg", "영상/사진 01.mp4", "Ünïcødé.png"]
    files = []
    for n in names:
        p = root / unicodedata.normalize("NFD", n)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        files.append(p)
    assert all(unicodedata.normalize("NFD", n) != unicodedata.normalize("NFC", n) for n in names)
    index = index_files(sorted(files), root)
    for n, p in zip(names, files):
        for key in (unicodedata.normalize("NFC", n), unicodedata.normalize("NFC", f"테스트/{n}"),
                    unicodedata.normalize("NFC", n).upper(), unicodedata.normalize("NFD", n)):
            assert find_listed(index, key) == p, key
    assert find_listed(index, unicodedata.normalize("NFC", "사진 01.mp4")) == files[1]  # the name alone


def test_a_key_that_fits_several_files_is_called_ambiguous(model, data_dir, tmp_path):
    """same.jpg and same.mp4 under the folder, a sheet row `same`: 'not found' before; now 'ambiguous' with both."""
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "same.jpg")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "other.jpg")
    (inp / "same.mp4").write_bytes(b"not a video")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("filename,label\nsame,0\nother,0\nSAME,0\n")
    code, out, err = predict_cli(model, inp, tmp_path / "sub.csv", "--sample-submission", sheet)
    assert code == 0, err
    for key in ("same", "SAME"):
        assert (f"{key}: listed in {sheet} but ambiguous: it fits 2 files under {inp} (same.jpg, same.mp4); write the "
                f"one meant as its path -> fallback label 1") in err, err
    assert "2 listed but missing" in out, out
    probs = {r["filename"]: r for r in _rows(tmp_path / "sub_probs.csv")}  # every sheet row is there, with why
    assert set(probs) == {"same", "SAME", "other.jpg"}, probs
    assert probs["SAME"]["prob_fake"] == "" and probs["SAME"]["label"] == "1" and probs["SAME"]["crops"] == "0"
    assert probs["SAME"]["reason"].startswith(f"listed in {sheet} but ambiguous: it fits 2 files"), probs["SAME"]


def test_a_name_with_spaces_round_trips_through_the_submission(model, data_dir, tmp_path):
    """' sp.jpg ' is written as it is; read back as --sample-submission it was stripped to 'sp.jpg' and missed
    (or found the other file 'sp.jpg'). The exact key is tried first now."""
    from synthfake.detector.inputs import find_listed, index_files

    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / " sp.jpg")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "tail .jpg ")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "sp.jpg")
    index = index_files([inp / " sp.jpg", inp / "sp.jpg", inp / "tail .jpg "], inp)
    assert find_listed(index, " sp.jpg") == inp / " sp.jpg" and find_listed(index, "sp.jpg") == inp / "sp.jpg"
    assert find_listed(index, "tail .jpg ") == inp / "tail .jpg " and find_listed(index, " b.jpg ") is None
    (inp / "tail .jpg ").unlink()  # not an image by its extension ('.jpg '): left out of the run below
    code, _, err = predict_cli(model, inp, tmp_path / "first.csv")
    assert code == 0, err
    first = _rows(tmp_path / "first.csv")
    assert [r["filename"] for r in first] == [" sp.jpg", "sp.jpg"]
    code, out, err = predict_cli(model, inp, tmp_path / "again.csv", "--sample-submission", tmp_path / "first.csv")
    assert code == 0, err
    assert "0 listed but missing" in out and _rows(tmp_path / "again.csv") == first, (out, err)


def test_a_folder_unzipped_from_korean_windows_and_sheets_saved_by_excel_are_matched(model, data_dir, tmp_path):
    """Found by a sweep as a Korean competition's user meets them (7 Dec): a file named in CP949 bytes (a zip made
    on Korean Windows, unzipped on Linux) never matched its UTF-8 sheet row ('not found' -> fallback); a sheet
    saved by Korean Excel (CP949), as UTF-16, or with ';' between columns was refused; .jfif / .jpe photos were
    not images. Each is matched now, and the reading said in the log."""
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", os.fsencode(inp) + b"/" + "사진.jpg".encode("cp949"))
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "b.jfif")
    for enc, sep, name in (("cp949", ",", "cp949.csv"), ("utf-16", ",", "utf16.csv"), ("utf-8", ";", "semi.csv")):
        sheet = tmp_path / name
        sheet.write_bytes(f"filename{sep}label\n사진.jpg{sep}0\nb.jfif{sep}0\n".encode(enc))
        code, out, err = predict_cli(model, inp, tmp_path / f"sub_{name}", "--sample-submission", sheet)
        assert code == 0, err
        assert "0 listed but missing" in out, (name, out, err)
        assert "1 file name(s) are not UTF-8" in err and "as CP949 reads them" in err, err
        if enc != "utf-8":
            assert f"{sheet}: read as {enc.upper()} text; the submission is written as UTF-8" in err, err
        text = (tmp_path / f"sub_{name}").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"filename{sep}label" and "사진.jpg" in text  # the sheet's own spelling


def test_a_folded_key_that_fits_two_files_is_ambiguous_not_the_first_found(tmp_path):
    """Case.jpg and case.jpg in one folder, a sheet row CASE.JPG: it went to case.jpg without a word; a key
    written exactly still finds its own file."""
    from synthfake.detector.inputs import index_files, lookup

    files = [tmp_path / "Case.jpg", tmp_path / "case.jpg", tmp_path / "Other.jpg"]
    for p in files:
        p.write_bytes(b"x")
    index = index_files(sorted(files), tmp_path)
    assert lookup(index, "CASE.JPG") == (None, [tmp_path / "Case.jpg", tmp_path / "case.jpg"])
    assert lookup(index, "case.jpg") == (tmp_path / "case.jpg", [])
    assert lookup(index, "Case.jpg") == (tmp_path / "Case.jpg", [])
    assert lookup(index, "other.JPG") == (tmp_path / "Other.jpg", [])


def test_an_out_named_like_an_input_in_another_case_is_refused(model, data_dir, tmp_path):
    """`--out in/upper.jpg` beside in/UPPER.JPG: one file on a macOS or Windows disk (the image replaced by the
    CSV); on Linux a new 'image' the next run scored as unreadable. Refused before scoring."""
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "UPPER.JPG")
    code, _, err = predict_cli(model, inp, inp / "upper.jpg")
    assert code != 0 and "would replace it" in err and not (inp / "upper.jpg").exists(), err


def test_a_heic_saved_under_a_jpg_name_is_read(tmp_path):
    """A phone's HEIC exported as .jpg: OpenCV cannot decode it, so it was 'unreadable'; Pillow reads it now."""
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    from synthfake import media

    pic = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    pillow_heif.from_pillow(Image.fromarray(pic)).save(str(tmp_path / "phone.jpg"), quality=95)
    rgb = media.read_image(tmp_path / "phone.jpg")
    assert rgb.shape == (48, 64, 3)
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    from synthfake.errors import MediaError

    with pytest.raises(MediaError, match="not a decodable image"):
        media.read_image(tmp_path / "junk.jpg")


def test_a_sheet_row_with_more_fields_than_its_header_is_refused_with_its_line(tmp_path):
    """'a b,c.jpg,0' under 'filename,label' (a name holding a comma, unquoted) was read as the file 'a b' with label
    'c.jpg': a fallback row for a file that is not there, and the real one never scored. One line now, naming the
    sheet and its line; the same row quoted is read whole."""
    from synthfake.detector.inputs import read_sample
    from synthfake.errors import SynthfakeError

    sheet = tmp_path / "sample.csv"
    sheet.write_text("filename,label\nok.jpg,0\na b,c.jpg,0\n")
    with pytest.raises(SynthfakeError, match=r"sample\.csv:3: 3 fields where the header has 2; a value holding ',' "
                                             r"must be quoted"):
        read_sample(sheet)
    sheet.write_text('filename,label\nok.jpg,0,\n"a b,c.jpg",0\nshort.jpg\n')
    got = read_sample(sheet)
    assert [r["filename"] for r in got.rows] == ["ok.jpg", "a b,c.jpg", "short.jpg"]
    assert all(None not in r for r in got.rows)  # a trailing empty field is dropped, not written back


def test_a_labels_row_with_more_fields_than_its_header_is_refused_with_its_line(tmp_path):
    """The labels CSV of `gen detect eval --labels` / `gen audit --labels` dropped a row's fields past the header's:
    'fakes/a,b.jpg,1' became path 'fakes/a' with label 'b.jpg'. A trailing empty field is still read."""
    from synthfake.errors import SynthfakeError
    from synthfake.labels import read_labels

    sheet = tmp_path / "labels.csv"
    sheet.write_text("path,label\nreal.jpg,0,\nfakes/a,b.jpg,1\n")
    with pytest.raises(SynthfakeError, match=r"labels\.csv:3: 3 fields where the header has 2; a value holding ',' "
                                             r"must be quoted"):
        read_labels(sheet, tmp_path)
    sheet.write_text('path,label\nreal.jpg,0,\n"fakes/a,b.jpg",1\n')
    assert [(r.path, r.label) for r in read_labels(sheet, tmp_path)] == [("real.jpg", 0), ("fakes/a,b.jpg", 1)]
