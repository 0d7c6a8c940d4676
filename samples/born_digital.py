"""Born-digital and e-signed PDFs of generated dispatches, for tests and benchmarks: the typeset words as real
PDF text, seals and signatures as images; and, as Vietnamese signing systems do, the number and day filled in
as signature-widget appearances (absent from the page content), a visible signature stamp, and signature
dictionaries whose /Contents hold a CMS blob with a self-made certificate (nothing here is a valid signature)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from generate import PlacedWord, RenderedPage
from PIL import Image

# A stamp is a box of this size (points) at the top right of page 1, as the provinces' publication centres
# place theirs.
STAMP_SIZE = (150.0, 40.0)
FIELD_FONT_PT = 13.0
LOCAL = dt.timezone(dt.timedelta(hours=7))
_DIGITS = re.compile(r"^\d+")


@dataclass(frozen=True)
class Signer:
    """One signature: a person (`name` set: the certificate's CN) or an organisation (CN = organisation)."""

    organisation: str
    time: dt.datetime  # aware, local time
    name: str | None = None
    email: str | None = None
    unit: str | None = None
    page: int = 0
    rect: tuple[float, float, float, float] | None = None  # widget (x0, y0, x1, y1), points; None: invisible
    stamp: str | None = None  # "labelled" (Ký bởi / Cơ quan / Thời gian ký), "plain" (name, e-mail, time)
    name_in_dictionary: bool = True  # write /Name (some systems leave it out: the certificate names the signer)


@dataclass(frozen=True)
class ESign:
    """How a generated document is signed."""

    signers: tuple[Signer, ...]
    number_and_day_fields: bool = True  # the number and the day as widget appearances of the first signer
    fields_signer: int = 0  # index of the signer whose widgets carry the number and the day


@dataclass
class _Widget:
    page: int
    rect: tuple[float, float, float, float]
    appearance: bytes | None  # content stream for digits, or None for a stamp / blank widget
    text_lines: tuple[str, ...] = ()
    signer: int = 0
    extra: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the page content


@lru_cache(maxsize=32)
def _font_name(path: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = "F_" + Path(path).stem.replace("-", "_")
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, path))
    return name


def _colour_ink(page: RenderedPage) -> tuple[Image.Image, tuple[int, int, int, int]] | None:
    """The seal and the signature (the coloured pixels) as an RGBA image of their bounding box."""
    rgb = np.asarray(page.image.convert("RGB"), dtype=np.int16)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    mask = chroma > 60
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.zeros((bottom - top, right - left, 4), dtype=np.uint8)
    crop[..., :3] = rgb[top:bottom, left:right].astype(np.uint8)
    crop[..., 3] = np.where(mask[top:bottom, left:right], 255, 0)
    return Image.fromarray(crop, "RGBA"), (int(left), int(top), int(right), int(bottom))


def _field_words(words: Sequence[PlacedWord]) -> tuple[int | None, int | None]:
    """Indices of the number ("21/CT-UBND" after "Số:") and of the day (digits after "ngày" in the
    place-and-date line) among a first page's words."""
    number = day = None
    for k, word in enumerate(words[:-1]):
        following = words[k + 1]
        if number is None and word.text in ("Số:", "Số") and _DIGITS.match(following.text) and "/" in following.text:
            number = k + 1
        if day is None and word.text == "ngày" and following.text.isdigit() and k > 0 and words[k - 1].text.endswith(","):
            day = k + 1
    return number, day


def _content_pdf(pages: Sequence[RenderedPage], esign: ESign | None) -> tuple[bytes, list[_Widget]]:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pageCompression=1, invariant=1)
    pdf.setCreator("congvan sample generator (born-digital)")
    widgets: list[_Widget] = []
    for index, page in enumerate(pages):
        if not page.words:
            raise ValueError("a born-digital PDF needs the typeset words of a clean rendered page")
        scale = 72.0 / page.dpi
        width, height = page.image.width * scale, page.image.height * scale
        pdf.setPageSize((width, height))
        ink = _colour_ink(page)
        if ink is not None:
            image, (left, top, right, bottom) = ink
            pdf.drawImage(ImageReader(image), left * scale, height - bottom * scale, (right - left) * scale,
                          (bottom - top) * scale, mask="auto")
        for x, y, w, h in page.rules:
            pdf.setFillGray(page.words[0].ink / 255.0)
            pdf.rect(x * scale, height - (y + h) * scale, w * scale, h * scale, stroke=0, fill=1)
        number, day = _field_words(page.words) if index == 0 and esign and esign.number_and_day_fields else (None,
                                                                                                           None)
        for k, word in enumerate(page.words):
            size = word.size_px * scale
            x, baseline = word.x * scale, height - word.baseline * scale
            pdf.setFillGray(word.ink / 255.0)
            pdf.setFont(_font_name(word.font_path), size)
            if k in (number, day):
                digits = _DIGITS.match(word.text)
                assert digits is not None
                value, rest = digits.group(0), word.text[digits.end():]
                value_width = pdf.stringWidth(value, _font_name(word.font_path), size)
                # the printed form leaves a gap for the value; the signing system fills it in a widget
                rect = (x, baseline - 0.3 * size, x + value_width + 0.5 * size, baseline + 0.9 * size)
                appearance = (f"BT /Helv {FIELD_FONT_PT:g} Tf 2 {0.3 * size:.2f} Td ({value}) Tj ET").encode()
                widgets.append(_Widget(0, rect, appearance, signer=esign.fields_signer if esign else 0))
                if rest:
                    pdf.drawString(x + value_width + 0.6 * size, baseline, rest)
                continue
            pdf.drawString(x, baseline, word.text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue(), widgets


# --------------------------------------------------------------------------- signatures


def _stamp_lines(signer: Signer) -> tuple[str, ...]:
    when = signer.time.astimezone(LOCAL)
    if signer.stamp == "labelled":
        who = signer.name or signer.organisation
        lines = [f"Ký bởi: {who}", f"Cơ quan: {signer.organisation}"]
        if signer.email:
            lines.append(f"Email: {signer.email}")
        return (*lines, f"Thời gian ký: {when:%d/%m/%Y %H:%M:%S}")
    lines = [signer.name or signer.organisation]
    if signer.email:
        lines.append(signer.email)
    return (*lines, f"{when:%d.%m.%Y %H:%M:%S} +07:00")


def _stamp_form(lines: Sequence[str], width: float, height: float) -> bytes:
    """A one-page PDF holding the stamp's text (a TrueType font, so Vietnamese survives extraction)."""
    from generate import _FONT_DIR, FONT_FAMILIES
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    font = _font_name(str(_FONT_DIR / FONT_FAMILIES["Noto Sans"][0]))
    size = min(7.0, (height - 4) / max(1, len(lines)) / 1.15)
    pdf.setFillColorRGB(0.1, 0.2, 0.6)
    for number, line in enumerate(lines):
        pdf.setFont(font, size)
        pdf.drawString(3, height - 3 - size * (number + 1) * 1.15 + 0.2 * size, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _pdf_time(moment: dt.datetime) -> str:
    local = moment.astimezone(LOCAL)
    return local.strftime("D:%Y%m%d%H%M%S+07'00'")


@lru_cache(maxsize=64)
def _cms_blob(common_name: str, organisation: str, unit: str | None, email: str | None, when: dt.datetime) -> bytes:
    """A detached CMS SignedData over a placeholder, by a self-signed certificate with this subject."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    subject = x509.Name(attributes)
    start = when.astimezone(dt.UTC) - dt.timedelta(days=30)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + dt.timedelta(days=730)).sign(key, hashes.SHA256()))
    return (pkcs7.PKCS7SignatureBuilder().set_data(b"congvan sample: not a signature of this file")
            .add_signer(certificate, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))


def add_signatures(content: bytes, path: Path, esign: ESign, widgets: Sequence[_Widget] = ()) -> Path:
    """Write `content` (a PDF) to `path` with an AcroForm of /Sig fields: the number/day widgets given, and
    one field per signer (its stamp drawn in its widget when it has one)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(content)) as pdf:
        helvetica = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                         BaseFont=pikepdf.Name.Helvetica,
                                                         Encoding=pikepdf.Name.WinAnsiEncoding))
        all_widgets = list(widgets)
        for number, signer in enumerate(esign.signers):
            if signer.rect is None:
                page = pdf.pages[signer.page]
                _, _, width, height = (float(v) for v in page.mediabox)
                rect = (width - 36 - STAMP_SIZE[0], height - 10 - STAMP_SIZE[1], width - 36, height - 10)
                all_widgets.append(_Widget(signer.page, rect if signer.stamp else (0, 0, 0, 0), None,
                                           _stamp_lines(signer) if signer.stamp else (), number))
            else:
                all_widgets.append(_Widget(signer.page, signer.rect, None,
                                           _stamp_lines(signer) if signer.stamp else (), number))
        fields = pikepdf.Array()
        for count, widget in enumerate(sorted(all_widgets, key=lambda w: w.signer)):
            signer = esign.signers[widget.signer]
            x0, y0, x1, y1 = widget.rect
            width, height = max(0.0, x1 - x0), max(0.0, y1 - y0)
            if widget.appearance is not None:
                form = pikepdf.Stream(pdf, widget.appearance)
                form.Type, form.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
                form.BBox = pikepdf.Array([0, 0, width, height])
                form.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helvetica))
            elif widget.text_lines and width > 0:
                with pikepdf.open(io.BytesIO(_stamp_form(widget.text_lines, width, height))) as stamp_pdf:
                    form = pdf.copy_foreign(stamp_pdf.pages[0].as_form_xobject())
            else:
                form = pikepdf.Stream(pdf, b"")
                form.Type, form.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
                form.BBox = pikepdf.Array([0, 0, max(width, 1), max(height, 1)])
            common_name = signer.name or signer.organisation
            value = pikepdf.Dictionary(
                Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
                SubFilter=pikepdf.Name("/adbe.pkcs7.detached"), M=pikepdf.String(_pdf_time(signer.time)),
                ByteRange=pikepdf.Array([0, 0, 0, 0]),
                Contents=pikepdf.String(_cms_blob(common_name, signer.organisation, signer.unit, signer.email,
                                                  signer.time).ljust(8192, b"\0")))
            if signer.name and signer.name_in_dictionary:
                value.Name = pikepdf.String(signer.name)
            if signer.email and not signer.name:
                value.Reason = pikepdf.String(f"{signer.organisation}<{signer.email}> đã ký lên văn bản này!")
            page = pdf.pages[widget.page]
            annotation = pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig,
                T=pikepdf.String(f"Signature{count + 1}"), V=pdf.make_indirect(value), F=4,
                Rect=pikepdf.Array([x0, y0, x1, y1]), P=page.obj, AP=pikepdf.Dictionary(N=form)))
            if "/Annots" not in page.obj:
                page.obj.Annots = pikepdf.Array()
            page.obj.Annots.append(annotation)
            fields.append(annotation)
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=fields, SigFlags=3)
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.save(path, deterministic_id=True)
    return path


def write_born_digital_pdf(pages: Sequence[RenderedPage], path: Path, esign: ESign | None = None) -> Path:
    """A born-digital PDF of clean rendered pages (real text in their fonts, seal and signature as images);
    e-signed when `esign` is given."""
    content, widgets = _content_pdf(pages, esign)
    if esign is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path
    return add_signatures(content, path, esign, widgets)


def field_values(pages: Sequence[RenderedPage]) -> tuple[str | None, str | None]:
    """The number and the day that `write_born_digital_pdf` turns into widget appearances."""
    words = pages[0].words
    number, day = _field_words(words)
    number_value = _DIGITS.match(words[number].text).group(0) if number is not None else None  # type: ignore[union-attr]
    return number_value, words[day].text if day is not None else None
