"""Small synthetic page images for the ingest, preprocess and OCR tests (drawn with PIL, no files needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
)

BODY_LINES = (
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
    "Ủy ban nhân dân tỉnh đề nghị các sở, ban, ngành khẩn trương thực hiện",
    "các nội dung sau đây, báo cáo kết quả trước ngày 15 tháng 4 năm 2020.",
    "Giao Sở Nông nghiệp và Phát triển nông thôn chủ trì, phối hợp với các",
    "đơn vị liên quan tổ chức kiểm tra, đôn đốc việc thực hiện kế hoạch này.",
    "Trong quá trình thực hiện, nếu có vướng mắc, phản ánh về Văn phòng.",
)


def font(size_px: int) -> ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if path.exists():
            return ImageFont.truetype(str(path), size_px)
    raise FileNotFoundError("no Vietnamese-capable serif font installed (fonts-dejavu-core)")


def text_page(lines: tuple[str, ...] = BODY_LINES, *, dpi: float = 300, width_in: float = 9.0,
              size_pt: float = 13, margin_in: float = 0.5, color: bool = False) -> np.ndarray:
    """White page with `lines` of black text: gray uint8, or BGR when `color`."""
    scale = dpi / 72
    face = font(round(size_pt * scale))
    pitch = round(size_pt * 1.6 * scale)
    margin = round(margin_in * dpi)
    height = 2 * margin + pitch * len(lines)
    image = Image.new("RGB" if color else "L", (round(width_in * dpi), height), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((margin, margin + number * pitch), line, font=face, fill="black")
    array = np.asarray(image)
    return np.ascontiguousarray(array[:, :, ::-1]) if color else array.copy()


def rotate(image: np.ndarray, degrees_ccw: float) -> np.ndarray:
    """Rotate about the centre, keeping the size, white fill (what a skewed scan looks like)."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees_ccw, 1.0)
    white = (255, 255, 255) if image.ndim == 3 else 255
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=white)


def header_page(left: tuple[str, ...], right: tuple[str, ...], body: tuple[str, ...], *, dpi: float = 300) -> np.ndarray:
    """A dispatch-like top of page: two centred header columns side by side, then full-width body lines."""
    scale = dpi / 72
    face = font(round(12 * scale))
    pitch = round(12 * 1.5 * scale)
    width = round(8.27 * dpi)
    margin = round(0.8 * dpi)
    left_centre, right_centre = round(2.3 * dpi), round(5.6 * dpi)
    top = round(0.6 * dpi)
    body_top = top + pitch * (max(len(left), len(right)) + 1)
    image = Image.new("L", (width, body_top + pitch * len(body) + margin), "white")
    draw = ImageDraw.Draw(image)
    for column, centre in ((left, left_centre), (right, right_centre)):
        for number, line in enumerate(column):
            line_width = draw.textlength(line, font=face)
            draw.text((centre - line_width / 2, top + number * pitch), line, font=face, fill="black")
    for number, line in enumerate(body):
        draw.text((margin, body_top + number * pitch), line, font=face, fill="black")
    return np.asarray(image).copy()


def save_png(image: np.ndarray, path: Path, dpi: float | None) -> Path:
    pil = Image.fromarray(image if image.ndim == 2 else image[:, :, ::-1])
    if dpi is None:
        pil.save(path)
    else:
        pil.save(path, dpi=(dpi, dpi))
    return path


def closing_page(*, dpi: float = 150) -> np.ndarray:
    """The sparse last page of a dispatch: a page number, then "Nơi nhận" (small, left) beside the signature
    block (capitals, right, set a little higher), and nothing below: about 30 words on an A4 page."""
    scale = dpi / 72
    small, large = font(round(11 * scale)), font(round(13 * scale))
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    image = Image.new("L", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((width / 2, round(0.4 * dpi)), "2", font=large, fill="black", anchor="mt")
    recipients = ("Nơi nhận:", "- Như trên;", "- Thường trực Huyện ủy (b/c);", "- Chủ tịch, các PCT UBND huyện;",
                  "- Lưu: VT, VP.")
    for number, line in enumerate(recipients):
        draw.text((round(1.2 * dpi), round(1.0 * dpi) + number * round(11 * 1.3 * scale)), line, font=small,
                  fill="black")
    signature = ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "", "", "", "Nguyễn Văn Hải")
    for number, line in enumerate(signature):
        draw.text((round(5.7 * dpi), round(0.9 * dpi) + number * round(13 * 1.5 * scale)), line, font=large,
                  fill="black", anchor="mt")
    return np.asarray(image).copy()


def subpixel_page(lines: tuple[str, ...] = BODY_LINES, *, dpi: float = 72, width_in: float = 7.5,
                  size_pt: float = 13) -> np.ndarray:
    """BGR page as a browser or a screenshot renders it small: text anti-aliased per sub-pixel (ClearType,
    R G B from left to right), so that every stroke has an orange fringe on one edge and a blue one on the
    other, the way web images of dispatches look."""
    fine = text_page(lines, dpi=dpi * 3, width_in=width_in, size_pt=size_pt)
    height, width = fine.shape[0] // 3, fine.shape[1] // 3
    # each sub-pixel covers a third of its pixel's width and the pixel's whole height
    thirds = cv2.resize(fine[: height * 3, : width * 3], (width * 3, height), interpolation=cv2.INTER_AREA)
    red, green, blue = thirds[:, 0::3], thirds[:, 1::3], thirds[:, 2::3]
    return np.ascontiguousarray(np.dstack([blue, green, red]))


def phone_photo(page: np.ndarray, corners: tuple[tuple[float, float], ...] | None, *, frame: tuple[int, int],
                light_depth: float = 0.35, seed: int = 0, quality: int = 80) -> np.ndarray:
    """`page` (gray or BGR) as a phone camera shows it: the sheet warped onto `corners` (TL, TR, BR, BL) of
    a `frame` (width, height) showing a dark brown table around it (or filling the frame when `corners` is
    None), a beige cast, light falling off across the sheet, sensor colour noise, then a 4:2:0 JPEG round trip."""
    colour = page if page.ndim == 3 else cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    height, width = colour.shape[:2]
    frame_width, frame_height = frame
    if corners is None:
        corners = ((0, 0), (frame_width - 1, 0), (frame_width - 1, frame_height - 1), (0, frame_height - 1))
    source = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, np.array(corners, dtype=np.float32))
    sheet = cv2.warpPerspective(colour, matrix, frame, flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
    inside = cv2.warpPerspective(np.full((height, width), 255, np.uint8), matrix, frame) > 127
    table = np.array([40, 60, 90], np.float32)  # BGR: dark brown
    image = np.where(inside[..., None], sheet.astype(np.float32) * np.array([0.86, 0.94, 1.0], np.float32), table)
    yy, xx = np.mgrid[0:frame_height, 0:frame_width].astype(np.float32)
    image *= (1.0 - light_depth * (0.6 * xx / frame_width + 0.4 * yy / frame_height))[..., None]
    rng = np.random.default_rng(seed)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    encoded = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def bend(page: np.ndarray, drop: float) -> np.ndarray:
    """`page` as a sheet folded down the middle and photographed: each column sinks by `drop` × its distance
    from the centre column squared over the half width (text lines become arcs), white fill."""
    height, width = page.shape[:2]
    xs = np.arange(width, dtype=np.float32)
    sink = drop * ((xs - width / 2) / (width / 2)) ** 2
    map_x, map_y = np.meshgrid(xs, np.arange(height, dtype=np.float32))
    white = (255, 255, 255) if page.ndim == 3 else 255
    return cv2.remap(page, map_x, map_y - sink[None, :], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=white)
