"""Bad inputs give a one-line congvan error naming the file, with the right class (and so exit code)."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from reportlab.pdfgen import canvas
from scan_images import save_png, text_page

from pipeline.errors import (
    CongvanError,
    CorruptFileError,
    EmptyFileError,
    EncryptedError,
    InputError,
    TooLargeError,
    UnsupportedFormatError,
)
from pipeline.ingest import MAX_PAGE_PIXELS, load_page, open_document


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(text_page(dpi=100)).save(buffer, "JPEG", quality=80, dpi=(100, 100))
    return buffer.getvalue()


def _pdf(path: Path, *, user: str = "", owner: str = "owner", print_allowed: bool = True) -> Path:
    plain = path.with_suffix(".plain.pdf")
    pdf = canvas.Canvas(str(plain), pagesize=(595, 842))
    pdf.drawString(72, 700, "Cong van so 12/UBND")
    pdf.showPage()
    pdf.save()
    permissions = pikepdf.Permissions(print_lowres=print_allowed, print_highres=print_allowed)
    with pikepdf.open(plain) as document:
        document.save(path, encryption=pikepdf.Encryption(user=user, owner=owner, allow=permissions))
    return path


def _assert_names_file(error: CongvanError, path: Path) -> None:
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert message.endswith(f"[{error.code}]")


def test_ingest_zero_byte_file_is_empty_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError) as caught:
        open_document(path)
    _assert_names_file(caught.value, path)
    with pytest.raises(EmptyFileError):
        load_page(path, 0)


def test_ingest_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError) as caught:
        load_page(path, 0)
    _assert_names_file(caught.value, path)
    assert "truncated" in caught.value.message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("letter.jpg", b"this is a text file wearing a .jpg name\n"),
        ("archive.zip", b"PK\x03\x04" + bytes(range(256)) * 4),
        ("report.pdf", b"not really a pdf\n"),
        ("data.bin", bytes(range(256)) * 16),
    ],
)
def test_ingest_non_document_is_unsupported(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedFormatError) as caught:
        open_document(path)
    _assert_names_file(caught.value, path)


def test_ingest_missing_file_and_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_document(tmp_path / "absent.pdf")
    with pytest.raises(UnsupportedFormatError, match="folder"):
        open_document(tmp_path)


def test_ingest_pdf_with_user_password_is_encrypted_error(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "locked.pdf", user="secret")
    with pytest.raises(EncryptedError) as caught:
        open_document(path)
    _assert_names_file(caught.value, path)
    with pytest.raises(EncryptedError):
        load_page(path, 0)


def test_ingest_pdf_owner_password_forbidding_print_is_refused(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "noprint.pdf", print_allowed=False)
    with pytest.raises(EncryptedError, match="forbids printing"):
        open_document(path)


def test_ingest_pdf_truncated_is_corrupt(tmp_path: Path) -> None:
    whole = _pdf(tmp_path / "whole.pdf", owner="")
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(CorruptFileError):
        open_document(path)


def test_ingest_decompression_bomb_above_our_limit_is_too_large(tmp_path: Path) -> None:
    # 1-bit PNG of ~121 Mpx: a few kB on disk, above MAX_PAGE_PIXELS but below Pillow's own hard limit
    side = int(MAX_PAGE_PIXELS**0.5) + 1000
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side), 1).save(path)
    assert path.stat().st_size < 200_000
    with pytest.raises(TooLargeError) as caught:
        open_document(path)
    _assert_names_file(caught.value, path)
    with pytest.raises(TooLargeError):
        load_page(path, 0)


def test_ingest_decompression_bomb_above_pillow_limit_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "bigger.png"
    Image.new("1", (20_000, 20_000), 1).save(path)  # 400 Mpx: Pillow itself refuses it
    with pytest.raises(TooLargeError):
        open_document(path)


def test_ingest_page_index_out_of_range(tmp_path: Path) -> None:
    path = save_png(text_page(dpi=100), tmp_path / "one.png", 100)
    with pytest.raises(InputError, match="page 2 does not exist"):
        load_page(path, 1)


def _multipage_tiff(path: Path, pages: int = 3) -> Path:
    frames = [Image.fromarray(text_page(dpi=100)) for _ in range(pages)]
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(100, 100), compression="tiff_deflate")
    return path


@pytest.mark.parametrize("kept", [0.05, 0.3, 0.5, 0.67, 0.9, 0.99])
def test_ingest_truncated_multipage_tiff_is_corrupt(tmp_path: Path, kept: float) -> None:
    # issue 11: a truncated multi-page TIFF failed with "internal error: TypeError: Missing dimensions" (E000)
    whole = _multipage_tiff(tmp_path / "whole.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(whole[: int(len(whole) * kept)])
    try:
        info = open_document(path)
    except CorruptFileError as error:
        _assert_names_file(error, path)
        return
    for index in range(info.page_count):  # headers readable: the cut pages fail alone, as corrupt
        try:
            load_page(path, index)
        except CorruptFileError as error:
            _assert_names_file(error, path)


def test_ingest_truncated_multipage_tiff_exits_five(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    whole = _multipage_tiff(tmp_path / "whole.tif").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.tif").write_bytes(whole[: len(whole) * 2 // 3])
    assert main(["process", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == CorruptFileError.exit_code == 5
    err = capsys.readouterr().err
    assert f"congvan: corrupt file: {tmp_path / 'in' / 'cut.tif'}: " in err and "[E102]" in err and "E000" not in err


def test_ingest_corrupt_exif_warning_does_not_reach_the_user(tmp_path: Path) -> None:
    # issue 11: Pillow's "Corrupt EXIF data" UserWarning leaked two lines to stderr
    jpeg = _jpeg_bytes()
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 40) + b"\x12\x01\x03\x00"
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + jpeg[2:])
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        open_document(path)
        page = load_page(path, 0)
    assert page.image.size > 0 and [str(w.message) for w in shown] == []


def test_ingest_native_decoder_messages_stay_off_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # libtiff prints "ZIPDecode: Decoding error at scanline 0, …" straight to the process's stderr
    whole = bytearray(_multipage_tiff(tmp_path / "whole.tif", pages=1).read_bytes())
    whole[40:400] = bytes(range(256)) + bytes(104)  # inside the first page's deflate stream
    path = tmp_path / "damaged.tif"
    path.write_bytes(bytes(whole))
    with pytest.raises(CorruptFileError) as caught:
        open_document(path)
        load_page(path, 0)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    _assert_names_file(caught.value, path)
