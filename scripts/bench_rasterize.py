"""Rasterizing PDF pages: pypdfium2 (as ingest uses it, and with its form environment) against pdf2image (poppler's
pdftoppm): milliseconds per page at 300 dpi, agreement of the pixels, and whether a filled form field is drawn."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
from pdf2image import convert_from_path

ROOT = Path(__file__).resolve().parent.parent
DPI = 300
FIELD_RECT = (72, 600, 400, 640)  # points: where the form's filled field is drawn
FIELD_VALUE = "Nguyen Van An 2020"


def form_pdf(path: Path) -> Path:
    """One page with a filled text field that has no appearance stream (/NeedAppearances): a viewer must
    draw the value itself, as many government e-forms are shipped."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    field = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx, T=pikepdf.String("name"),
        V=pikepdf.String(FIELD_VALUE), Rect=list(FIELD_RECT), DA=pikepdf.String("/Helv 18 Tf 0 g"), F=4,
        P=pdf.pages[0].obj))
    pdf.pages[0].obj.Annots = pdf.make_indirect([field])
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(
        Fields=[field], NeedAppearances=True, DA=pikepdf.String("/Helv 0 Tf 0 g"),
        DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font))))
    pdf.save(path)
    return path


def render_pdfium(path: Path, index: int, forms: bool) -> np.ndarray:
    document = pdfium.PdfDocument(path)
    try:
        if forms:
            document.init_forms()
        bitmap = document[index].render(scale=DPI / 72, fill_color=(255, 255, 255, 255), may_draw_forms=forms)
        return np.asarray(bitmap.to_pil().convert("L"))
    finally:
        document.close()


def render_poppler(path: Path, index: int) -> np.ndarray:
    (image,) = convert_from_path(str(path), dpi=DPI, first_page=index + 1, last_page=index + 1, grayscale=True)
    return np.asarray(image.convert("L"))


def timed(function, *args, repeats: int) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times) * 1000, result


def field_ink(image: np.ndarray) -> int:
    x0, y0, x1, y1 = (round(v * DPI / 72) for v in FIELD_RECT)
    height = image.shape[0]
    region = image[height - y1:height - y0, x0:x1]
    return int(np.count_nonzero(region < 128))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        inputs = [*sorted((ROOT / "samples").glob("*.pdf")), form_pdf(Path(work) / "form.pdf")]
        rows = []
        for path in inputs:
            with pikepdf.open(path) as pdf:
                pages = len(pdf.pages)
            for index in range(pages):
                ms_pdfium, pdfium_image = timed(render_pdfium, path, index, False, repeats=args.repeats)
                ms_forms, forms_image = timed(render_pdfium, path, index, True, repeats=args.repeats)
                ms_poppler, poppler_image = timed(render_poppler, path, index, repeats=args.repeats)
                # the renderers round the page size apart by a pixel: compare the common area
                height = min(pdfium_image.shape[0], poppler_image.shape[0])
                width = min(pdfium_image.shape[1], poppler_image.shape[1])
                delta = np.abs(forms_image[:height, :width].astype(int) - poppler_image[:height, :width].astype(int))
                differing = float(np.mean(delta > 64))
                rows.append((f"{path.name} p{index + 1}", ms_pdfium, ms_forms, ms_poppler, differing,
                             field_ink(pdfium_image), field_ink(forms_image), field_ink(poppler_image)))
    print(f"{'page':<48} {'pdfium ms':>9} {'+forms ms':>9} {'poppler ms':>10} {'px differ':>9} "
          f"{'field ink: pdfium / +forms / poppler':>36}")
    for name, a, b, c, d, e, f, g in rows:
        print(f"{name:<48} {a:9.0f} {b:9.0f} {c:10.0f} {d:9.2%} {e:>14} / {f:>6} / {g:>7}")
    print(f"median ms/page: pypdfium2 {statistics.median(r[1] for r in rows):.0f}, with forms "
          f"{statistics.median(r[2] for r in rows):.0f}, pdf2image {statistics.median(r[3] for r in rows):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
