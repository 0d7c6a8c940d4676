"""Generated pages of registered dispatches, as real archives hold them: the number and the day written by hand
into the printed form, a receiving office's "CV ĐẾN" stamp over the first body lines (drawn with PIL and OpenCV,
no files needed)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw
from scan_images import font

from pipeline.types import PageImage

DPI = 200
LEFT = ("ỦY BAN NHÂN DÂN", "TỈNH QUẢNG NGÃI")
RIGHT = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
BODY = (
    "Thời gian qua, các cấp, các ngành đã có nhiều cố gắng trong lãnh đạo, chỉ",
    "đạo, điều hành, quản lý nhà nước về cải cách thủ tục hành chính, thu hút đầu tư",
    "đối với các dự án đầu tư bằng nguồn vốn ngoài ngân sách Nhà nước, tạo sự",
    "chuyển biến tích cực trong việc cải thiện môi trường đầu tư kinh doanh.",
    "UBND tỉnh chỉ thị các sở, ban ngành thực hiện các nhiệm vụ sau:",
    "1. Sở Kế hoạch và Đầu tư rà soát các dự án chậm tiến độ.",
)


def handwritten(text: str, height: int, *, seed: int = 0, font_face: int = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                slant: float = 0.25) -> np.ndarray:
    """`text` written with a pen: a script stroke font, slanted, each character a little turned and shifted
    (uint8, ink 0 on paper 255, `height` pixels tall)."""
    rng = np.random.default_rng(seed)
    scale = height / 30
    thickness = max(2, round(height / 14))
    widths = [cv2.getTextSize(ch, font_face, scale, thickness)[0][0] for ch in text]
    canvas = np.full((height * 2, sum(widths) + height * 2), 255, np.uint8)
    x = height // 2
    for character, width in zip(text, widths, strict=True):
        piece = np.full((height * 2, width + height), 255, np.uint8)
        cv2.putText(piece, character, (height // 3, int(height * 1.5)), font_face, scale, 0, thickness, cv2.LINE_AA)
        angle = rng.uniform(-8, 8)
        matrix = cv2.getRotationMatrix2D((piece.shape[1] / 2, piece.shape[0] / 2), angle, rng.uniform(0.9, 1.1))
        matrix[0, 1] -= slant
        piece = cv2.warpAffine(piece, matrix, (piece.shape[1], piece.shape[0]), borderValue=255)
        dy = int(rng.integers(-height // 10, height // 10 + 1))
        region = canvas[max(0, dy) : max(0, dy) + piece.shape[0], x : x + piece.shape[1]]
        canvas[max(0, dy) : max(0, dy) + piece.shape[0], x : x + piece.shape[1]] = np.minimum(
            region, piece[: region.shape[0], : region.shape[1]])
        x += width + int(rng.integers(0, height // 6 + 1))
    ys, xs = np.nonzero(canvas < 128)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def leaning(ink: np.ndarray, slant: float) -> np.ndarray:
    """`ink` (ink 0 on paper 255) leaning right by `slant` pixels per pixel of height, as a hurried hand writes."""
    height, width = ink.shape
    matrix = np.array([[1, -slant, slant * height], [0, 1, 0]], np.float32)
    return cv2.warpAffine(ink, matrix, (width + int(np.ceil(slant * height)), height), borderValue=255)


def slashed_zero(height: int, *, width_share: float = 0.5, thickness: int = 3) -> np.ndarray:
    """A zero as clerks write it, told from the letter O by a slash from its foot to its top right corner."""
    width = round(width_share * height)
    canvas = np.full((height + 8, width + 8), 255, np.uint8)
    cv2.ellipse(canvas, (4 + width // 2, 4 + height // 2), (width // 2, height // 2), 0, 0, 360, 0, thickness,
                cv2.LINE_AA)
    cv2.line(canvas, (1, height + 6), (width + 6, 1), 0, thickness, cv2.LINE_AA)
    return canvas


def side_by_side(pieces: list[np.ndarray], *, overlap: int = 0) -> np.ndarray:
    """Inks of one height put left to right, each `overlap` pixels into the one before (strokes that touch)."""
    height = max(piece.shape[0] for piece in pieces)
    pieces = [cv2.resize(piece, (round(piece.shape[1] * height / piece.shape[0]), height)) for piece in pieces]
    width = sum(piece.shape[1] for piece in pieces) - overlap * (len(pieces) - 1)
    canvas = np.full((height, width), 255, np.uint8)
    x = 0
    for piece in pieces:
        region = canvas[:, x : x + piece.shape[1]]
        canvas[:, x : x + piece.shape[1]] = np.minimum(region, piece[:, : region.shape[1]])
        x += piece.shape[1] - overlap
    return canvas


def scribble(height: int, *, seed: int = 0) -> np.ndarray:
    """A blot of crossed strokes where the number should be: ink that is no digit."""
    rng = np.random.default_rng(seed)
    canvas = np.full((height, height * 2), 255, np.uint8)
    for _ in range(14):
        points = rng.integers(0, [height * 2, height], (2, 2))
        cv2.line(canvas, tuple(int(v) for v in points[0]), tuple(int(v) for v in points[1]), 0, max(2, height // 10))
    return canvas


@dataclass(frozen=True)
class Stamp:
    """A receiving office's stamp: its register number and date, written by hand (or typed) in its box."""

    number: str = "2770"
    date: str = "04/4/18"
    hand: int = cv2.FONT_HERSHEY_SIMPLEX
    worn: bool = False  # pressed unevenly: its top side wavy and broken, its title struck through by a rule
    offset: float = 0.3  # inches from its labels to where the values are written


def _paste(page: np.ndarray, ink: np.ndarray, x: int, y_centre: int) -> None:
    top = max(0, y_centre - ink.shape[0] // 2)
    region = page[top : top + ink.shape[0], x : x + ink.shape[1]]
    page[top : top + ink.shape[0], x : x + ink.shape[1]] = np.minimum(region, ink[: region.shape[0], : region.shape[1]])


def registered_dispatch(number: str | np.ndarray | None, day: str | np.ndarray | None, *, stamp: Stamp | None = None,
                        seed: int = 0) -> PageImage:
    """The top of a Chỉ thị's first page: "Số: ___/CT-UBND" and "Quảng Ngãi, ngày ___ tháng 4 năm 2018" with
    `number` and `day` written by hand into the blanks (a string to write, an image of ink, or None to leave the
    blank), the title, and six body lines; `stamp` puts a framed "CV ĐẾN" stamp over the first body lines."""
    scale = DPI / 72
    face, bold = font(round(13 * scale)), font(round(15 * scale))
    small = font(round(9 * scale))
    pitch = round(13 * 1.6 * scale)
    width, height = round(9.2 * DPI), round(6.2 * DPI)
    image = Image.new("L", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left_x, right_centre, top = round(0.9 * DPI), round(5.6 * DPI), round(0.5 * DPI)
    for k, line in enumerate(LEFT):
        draw.text((left_x, top + k * pitch), line, font=face, fill="black")
    for k, line in enumerate(RIGHT):
        draw.text((right_centre - draw.textlength(line, font=face) / 2, top + k * pitch), line, font=face, fill="black")
    number_y = top + 2 * pitch + pitch // 3
    draw.text((left_x, number_y), "Số:", font=face, fill="black")
    number_x = left_x + round(draw.textlength("Số: ", font=face))
    draw.text((number_x + round(0.55 * DPI), number_y), "/CT-UBND", font=face, fill="black")
    place = "Quảng Ngãi, ngày "
    place_x = round(4.1 * DPI)
    draw.text((place_x, number_y), place, font=face, fill="black")
    day_x = place_x + round(draw.textlength(place, font=face))
    draw.text((day_x + round(0.42 * DPI), number_y), "tháng 4 năm 2018", font=face, fill="black")
    title_y = number_y + 2 * pitch
    body_y, body_x = title_y + 3 * pitch, round(1.6 * DPI)  # a wide left margin, where stamps go
    centre = (body_x + max(body_x + draw.textlength(line, font=face) for line in BODY[1:4])) / 2  # of the column
    for k, (line, line_font) in enumerate((("CHỈ THỊ", bold), ("Về việc tăng cường công tác quản lý đầu tư", bold))):
        draw.text((centre - draw.textlength(line, font=line_font) / 2, title_y + k * pitch), line, font=line_font,
                  fill="black")
    for k, line in enumerate(BODY):
        indent = round(0.4 * DPI) if k in (0, 4) else 0
        draw.text((body_x + indent, body_y + k * pitch), line, font=face, fill="black")
    frame = None
    if stamp is not None:
        x0, y0 = round(0.05 * DPI), body_y - round(0.25 * pitch)
        x1, y1 = x0 + round(2.5 * DPI), y0 + round(2.9 * pitch)
        if stamp.worn:
            draw.line((x0, y0, x0, y1, x1, y1, x1, y0), fill="black", width=3)
            # the top side wavers by a few pixels and breaks, never straight for long
            wave = [(x, y0 + round(2 * np.sin(x / 40))) for x in range(x0, x1 + 1, 4)]
            for k in range(0, len(wave) - 1, 22):
                draw.line(wave[k : k + 20], fill="black", width=3)
            # the office's name above the frame, a rule struck through it
            title_y = y0 - round(0.55 * pitch)
            draw.text((x0 + 8, title_y), "TRUNG TÂM CÔNG BÁO & TIN HỌC", font=small, fill="black")
            draw.line((x0, title_y + round(0.3 * pitch), x0 + round(1.8 * DPI), title_y + round(0.3 * pitch)),
                      fill="black", width=3)
        else:
            draw.rectangle((x0, y0, x1, y1), outline="black", width=3)  # stamped over the body lines
            draw.text((x0 + 8, y0 + 4), "TRUNG TÂM CÔNG BÁO & TIN HỌC", font=small, fill="black")
        draw.text((x0 + 10, y0 + round(0.8 * pitch)), "CV", font=bold, fill="black")
        draw.text((x0 + 6, y0 + round(1.8 * pitch)), "ĐẾN", font=bold, fill="black")
        label_x = x0 + round(0.5 * DPI)
        for k, label in enumerate(("Số:", "Ngày:", "Chuyển:")):
            draw.text((label_x, y0 + round((0.75 + 0.7 * k) * pitch)), label, font=small, fill="black")
        frame = (label_x, y0, pitch)
    page = np.asarray(image).copy()
    ink_height = round(0.85 * pitch)
    for value, x in ((number, number_x), (day, day_x)):
        if value is None:
            continue
        ink = handwritten(value, ink_height, seed=seed) if isinstance(value, str) else value
        _paste(page, ink, x + round(0.05 * DPI), number_y + pitch // 3)
    if stamp is not None and frame is not None:
        label_x, y0, pitch = frame
        for k, value in enumerate((stamp.number, stamp.date)):
            ink = handwritten(value, round(0.55 * pitch), seed=seed + k, font_face=stamp.hand, slant=0.1)
            _paste(page, ink, label_x + round(stamp.offset * DPI), y0 + round((0.95 + 0.7 * k) * pitch))
    return PageImage(source="registered.png", index=0, image=page, dpi=DPI)
