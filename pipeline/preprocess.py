"""Page image cleaning before OCR: photo detection and perspective, colour ink, resolution, noise, background, borders,
orientation, marks, skew."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, NamedTuple

import cv2
import numpy as np

from pipeline.ingest import A4_INCHES, estimate_dpi
from pipeline.limits import check_pixels, scale_within_budget
from pipeline.types import PageImage, PreparedPage, PreprocessStep

TARGET_DPI = 300.0
UPSCALE_BELOW_DPI = 250.0
DOWNSCALE_ABOVE_DPI = 450.0  # Tesseract gains nothing above ~300 dpi and takes 4× longer at 600
# Chroma (max-min channel) above this is treated as coloured ink; below it is JPEG/scanner colour noise.
INK_CHROMA_FLOOR = 28.0
INK_CHROMA_BOOST = 1.5
# Share of a coloured pixel's colour that the mean of its 5×5 neighbourhood keeps: up to this much it is
# a fringe of a black stroke (opposite hues on its two edges cancel), from twice this much coloured ink.
FRINGE_SHARED_HUE = 0.2
COLOUR_CHUNK = 1 << 20  # coloured pixels weighed at a time
NOISE_SIGMA_FOR_MEDIAN = 3.0  # gray levels: above this a 3×3 median removes the grain
DESKEW_RANGE_DEGREES = 12.0
BORDER_MARGIN_INCHES = 0.03  # ink starting this close to the image edge belongs to the frame, not the text
BORDER_GRAY = 200
# A text line cut by the image frame (web images, cropped photos): at least CUT_LINE_LETTERS letters, each
# at least CUT_LETTER_INCHES tall across the edge and at most CUT_WORD_INCHES along it (letters blur into
# words at low resolution), no more than CUT_LINE_GAP_INCHES apart, spanning CUT_LINE_MIN_INCHES.
CUT_LETTER_INCHES = (0.05, 0.3)
CUT_WORD_INCHES = 0.6
CUT_LINE_GAP_INCHES = 0.25
CUT_LINE_LETTERS = 5
CUT_LINE_MIN_INCHES = 1.0
MARK_GRAY = 215
MARK_HEIGHT_RATIO = 3.0  # a shape this many median character heights tall is not text
SPECK_INCHES = 0.01  # a speck is at most this wide and tall (3 px at 300 dpi) …
SPECK_CLEARANCE_INCHES = 0.05  # … with no other ink this close (the dot of an i is within a few pixels)
LIGHT_MARK_CONTRAST = 60.0  # gray levels by which a mark's ink is lighter than the text's: a photocopied seal
RULE_MIN_INCHES = 0.25  # a horizontal line at least this long (the rule under the issuer can be 2 cm) …
RULE_MAX_INCHES = 0.03  # … and at most this thick is a rule, not text
ORIENTATION_DPI = 150.0
BLOCK_INCHES = 1.0  # ink at least this tall and wide is a block of lines (orientation scores it per bin)
LETTER_INCHES = (0.03, 0.3)  # height range of a character's ink at any usual type size
# Up/down evidence (standard deviations) above which the page is turned without asking the OCR. Upright
# generated pages measure +1.7 or more (sparse signature pages), ordinary text pages +5 and more.
SURE_ORIENTATION = 4.0
BLANK_INK_FRACTION = 0.0004  # share of dark pixels below which a page has no text worth reading
MIN_BLANK_COMPONENTS = 8
# Photo detection (detect_photo) on a copy whose long side is PHOTO_SIDE pixels (an A4 page: 0.02 inch a
# pixel): a closing of PAPER_CLOSING pixels (0.3 inch, wider than any letter) leaves the paper's brightness.
# A camera lights the sheet unevenly: across the inner 80 % of the page its paper varies by 33 and 43 gray
# levels (5th to 95th percentile) on the phone photos measured, by at most 24 on yellowed, stained archival
# scans, and 0–1 on other scans and web images; a scanner's lamp lights it evenly.
PHOTO_SIDE = 600
PAPER_CLOSING = 15
PHOTO_LIGHT_SPREAD = 28.0
# Gray levels below this share of the paper's (its 90th percentile) are no paper, however it is lit: a picture,
# a dark table or a black bar that the closing keeps (the real phone photo's darkest paper, its 5th percentile,
# is at 0.8 of that). A picture's light parts above it still count: a limit of this measure.
PAPER_FLOOR_SHARE = 0.6
# A page photographed on a darker background: the paper is the largest bright region, a quadrilateral
# covering between these shares of the frame (at the top, the page fills the photo and its edges are cut).
PAGE_QUAD_AREA = (0.2, 0.95)
PAGE_QUAD_EPSILON = 0.02  # polygon simplification, as a share of the outline's length
# … and its outline a sharp step: the background PAGE_EDGE_RING pixels outside it at least this share darker
# than the paper as far inside (light falling off across a sheet changes by a few percent over that width).
PAGE_EDGE_RING = 4
PAGE_EDGE_CONTRAST = 0.25
# Decree 30/2020's paper: a sheet whose shape, as the camera's view gives it (sheet_aspect), is within
# A4_ASPECT_TOLERANCE of A4's is taken as A4 (US Letter is 9 % off, a square card 41 %).
A4_ASPECT = A4_INCHES[0] / A4_INCHES[1]
A4_ASPECT_TOLERANCE = 0.08
# A phone's main camera: about a 26 mm lens in 35 mm terms, a focal length of 0.6 of the frame's diagonal; a
# focal length measured outside FOCAL_SHARES of it is no camera's (a quadrilateral no rectangle projects to).
PHONE_FOCAL_SHARE = 0.6
FOCAL_SHARES = (0.3, 3.0)
# Bent lines (straighten_lines): angles measured in a CURL_GRID (columns, rows) of cells, at least
# CURL_MIN_CELLS of them with lines standing out (line contrast, see measure_skew); the fitted drift is
# followed on a CURL_FIELD² grid and undone when it reaches CURL_MIN_SHIFT_INCHES anywhere: the fit's noise on
# flat generated photos reaches 0.05 inch, the folded real photo 0.6 inch.
CURL_GRID = (6, 8)
CURL_DPI = 100.0
CURL_OUTLIER_DEGREES = 1.5
CURL_MIN_CONTRAST = 1.5
CURL_MIN_CELLS = 12
CURL_FIELD = 64
CURL_MIN_SHIFT_INCHES = 0.1

# A step returns its image and its parameters. A step that moves pixels records, as "to_input", the 2×3
# affine matrix mapping its OUTPUT pixel coordinates back to its INPUT ones; preprocess_page composes them
# into PreparedPage.to_original.
StepResult = tuple[np.ndarray, dict[str, Any]]


# --------------------------------------------------------------------------- composition


def preprocess_page(page: PageImage, *, binarize_output: bool = False) -> PreparedPage:
    """Run every step in order on one page; record each step's parameters and the pixel mapping back to
    the original page. `binarize_output` hands Tesseract a Sauvola-binarized image instead of the cleaned
    gray one; off by default because gray reads better (`scripts/bench_scan.py --variants`)."""
    steps: list[PreprocessStep] = []
    to_original = np.eye(3)

    def record(name: str, result: StepResult) -> np.ndarray:
        nonlocal to_original
        image, params = result
        matrix = params.get("to_input")
        if matrix is not None:
            to_original = to_original @ _homogeneous(matrix)
        steps.append(PreprocessStep(name, params))
        return image

    image = record("detect_photo", detect_photo(page.image, page.dpi))
    photo = steps[-1].params
    gray = record("suppress_color_ink", suppress_color_ink(image, camera=bool(photo["photo"])))
    gray = record("rescale", rescale(gray, float(photo["dpi"])))
    dpi = float(steps[-1].params["dpi"])
    gray = record("denoise", denoise(gray))
    gray = record("normalize_background", normalize_background(gray, dpi))
    gray = record("remove_borders", remove_borders(gray, dpi))
    gray = record("remove_specks", remove_specks(gray, dpi))
    if photo["photo"]:  # before the steps that need straight lines (orientation, marks, rules, skew)
        gray = record("straighten_lines", straighten_lines(gray, dpi))
    gray = record("fix_orientation", fix_orientation(gray, dpi))
    gray = record("remove_marks", remove_marks(gray, dpi))
    gray = record("remove_rules", remove_rules(gray, dpi))
    gray = record("deskew", deskew(gray, dpi))
    if binarize_output:
        gray = record("binarize", binarize(gray, dpi))
    warnings: list[str] = []
    if is_blank(gray, dpi):
        warnings.append("blank page")
    if page.dpi_estimated:
        warnings.append(f"no usable DPI in the file: assumed an A4 page ({page.dpi:.0f} dpi)")
    return PreparedPage(page=page, image=gray, dpi=dpi, steps=tuple(steps), to_original=_affine_tuple(to_original),
                        warnings=tuple(warnings))


def _homogeneous(matrix: list[list[float]] | np.ndarray) -> np.ndarray:
    full = np.eye(3)
    full[:2] = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    return full


def _affine_tuple(matrix: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """The top two rows of a 3×3 homogeneous matrix as PreparedPage.to_original's six floats."""
    a, b, c, d, e, f = (float(value) for value in matrix[:2].reshape(6))
    return (a, b, c, d, e, f)


def _matrix_param(matrix: np.ndarray) -> list[list[float]]:
    return [[round(float(value), 6) for value in row] for row in np.asarray(matrix)[:2]]


# --------------------------------------------------------------------------- photos


def detect_photo(image: np.ndarray, dpi: float) -> StepResult:
    """Tell a camera photo from a scan by what the image shows, and straighten a photographed sheet.

    Evidence, all recorded: the paper's brightness and how unevenly it is lit (`light_spread`, see
    PHOTO_LIGHT_SPREAD), and the sheet's outline (`page_quad`) when it lies on a darker background. A page
    whose outline is found is warped to a rectangle (perspective removed) at the resolution an A4 sheet of
    that size has: a camera's declared DPI says nothing about the paper. Pages without photo evidence pass
    unchanged (`photo`: false), so scans keep their path."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    paper, scale = _paper_light(gray)
    height, width = paper.shape
    inner = cv2.medianBlur(paper, PAPER_CLOSING)[height // 10:height - height // 10, width // 10:width - width // 10]
    # the light is measured on the paper: a large dark picture or table that the closing keeps is not paper
    paper_level = float(np.percentile(inner, 90))
    inner = inner[inner >= PAPER_FLOOR_SHARE * paper_level]
    low, median, high = (float(value) for value in np.percentile(inner, [5, 50, 95]))
    params: dict[str, Any] = {"paper_median": round(median, 1), "light_spread": round(high - low, 1),
                              "page_quad": None, "dpi": float(dpi)}
    quad = find_page_quad(paper)
    params["photo"] = quad is not None or high - low >= PHOTO_LIGHT_SPREAD
    if quad is None:
        return image, params
    corners = quad / scale
    warped, homography = warp_quad(image, corners)
    params.update(page_quad=[[round(float(x), 1), round(float(y), 1)] for x, y in corners],
                  homography=[[round(float(v), 8) for v in row] for row in homography],
                  to_input=_matrix_param(_affine_of_homography(homography, warped.shape[1], warped.shape[0])),
                  dpi=round(estimate_dpi(warped.shape[1], warped.shape[0]), 2))
    return warped, params


def _paper_light(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's brightness (text closed away; its outline kept sharp) on a copy PHOTO_SIDE pixels long, and
    that copy's scale."""
    height, width = gray.shape
    scale = PHOTO_SIDE / max(height, width)
    small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (PAPER_CLOSING, PAPER_CLOSING))
    return cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), scale


def find_page_quad(paper: np.ndarray) -> np.ndarray | None:
    """Corners (top-left, top-right, bottom-right, bottom-left; float x, y) of a sheet lying on a darker
    background in the paper-brightness image, or None: the largest bright region must simplify to a convex
    quadrilateral of PAGE_QUAD_AREA of the frame."""
    _, bright = cv2.threshold(paper, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    polygon = cv2.approxPolyDP(outline, PAGE_QUAD_EPSILON * cv2.arcLength(outline, True), True)
    share = cv2.contourArea(polygon) / paper.size
    if len(polygon) != 4 or not cv2.isContourConvex(polygon) or not PAGE_QUAD_AREA[0] <= share <= PAGE_QUAD_AREA[1]:
        return None
    if _edge_contrast(paper, polygon) < PAGE_EDGE_CONTRAST:  # a boundary of light, not the sheet's edge
        return None
    points = polygon.reshape(4, 2).astype(np.float64)
    ordered = np.empty_like(points)
    sums, diffs = points.sum(axis=1), points[:, 1] - points[:, 0]
    ordered[0], ordered[2] = points[np.argmin(sums)], points[np.argmax(sums)]
    ordered[1], ordered[3] = points[np.argmin(diffs)], points[np.argmax(diffs)]
    return ordered


def _edge_contrast(paper: np.ndarray, polygon: np.ndarray) -> float:
    """How much darker, as a share of the paper's brightness, the frame is just outside `polygon` than the
    paper just inside it (PAGE_EDGE_RING pixels either side)."""
    inside = np.zeros(paper.shape, np.uint8)
    cv2.fillPoly(inside, [polygon.reshape(-1, 2)], 1)
    kernel = np.ones((2 * PAGE_EDGE_RING + 1, 2 * PAGE_EDGE_RING + 1), np.uint8)
    ring_in = (inside > 0) & (cv2.erode(inside, kernel, borderType=cv2.BORDER_REPLICATE) == 0)
    ring_out = (inside == 0) & (cv2.dilate(inside, kernel) > 0)
    if not ring_in.any() or not ring_out.any():
        return 0.0
    paper_level = float(np.median(paper[ring_in]))
    return (paper_level - float(np.median(paper[ring_out]))) / max(paper_level, 1.0)


def warp_quad(image: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The quadrilateral `corners` (TL, TR, BR, BL) of `image` warped to an upright rectangle as long as its
    longer opposite sides; returns it and the 3×3 homography mapping its pixels back to `image` pixels."""
    top, bottom, left, right = (float(np.linalg.norm(corners[a] - corners[b])) for a, b in ((1, 0), (2, 3), (3, 0), (2, 1)))
    # foreshortening shortens the far side, so the sides do not give the sheet's shape: the camera's view of a
    # rectangle does (sheet_aspect); a shape near A4's (the format of Decree 30/2020) is taken as A4
    long_side = max(top, bottom, left, right)
    aspect = sheet_aspect(corners, image.shape[1], image.shape[0])  # width over height
    if abs(min(aspect, 1 / aspect) / A4_ASPECT - 1) <= A4_ASPECT_TOLERANCE:
        aspect = A4_ASPECT if aspect < 1 else 1 / A4_ASPECT
    width, height = (long_side * aspect, long_side) if aspect <= 1 else (long_side, long_side / aspect)
    columns, rows = max(2, round(width)), max(2, round(height))
    check_pixels(columns, rows, "the straightened photo")
    target = np.array([[0, 0], [columns - 1, 0], [columns - 1, rows - 1], [0, rows - 1]], dtype=np.float32)
    to_input = cv2.getPerspectiveTransform(target, corners.astype(np.float32))
    warped = cv2.warpPerspective(image, to_input, (columns, rows), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
    return warped, to_input


def sheet_aspect(corners: np.ndarray, frame_width: int, frame_height: int) -> float:
    """Width over height of the rectangle a camera saw as the quadrilateral `corners` (TL, TR, BR, BL) of a frame
    (Zhang & He, "Whiteboard scanning and image enhancement", 2007): the two vanishing points give the focal
    length, the principal point taken at the frame's centre, square pixels. When a pair of sides is parallel in
    the photo the focal length is not determined: a phone's usual lens (PHONE_FOCAL_SHARE) is assumed."""
    centre = np.array([frame_width / 2, frame_height / 2])
    m1, m2, m4, m3 = (np.append(corner - centre, 1.0) for corner in corners)  # TL, TR, BR, BL
    k2 = float(np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3))
    k3 = float(np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2))
    n2, n3 = k2 * m2 - m1, k3 * m3 - m1
    depth = float(n2[2] * n3[2])
    focal2 = -float(n2[0] * n3[0] + n2[1] * n3[1]) / depth if abs(depth) > 1e-9 else 0.0
    diagonal2 = float(frame_width**2 + frame_height**2)
    if not FOCAL_SHARES[0] ** 2 * diagonal2 <= focal2 <= FOCAL_SHARES[1] ** 2 * diagonal2:
        focal2 = PHONE_FOCAL_SHARE**2 * diagonal2
    return math.sqrt((n2[0] ** 2 + n2[1] ** 2 + focal2 * n2[2] ** 2) / (n3[0] ** 2 + n3[1] ** 2 + focal2 * n3[2] ** 2))


def _affine_of_homography(homography: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 2×3 affine map closest to `homography` over a 5×5 grid of the warped page."""
    xs, ys = np.meshgrid(np.linspace(0, width - 1, 5), np.linspace(0, height - 1, 5))
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
    mapped = grid @ homography.T
    return _affine_fit(grid[:, :2], mapped[:, :2] / mapped[:, 2:])


def _affine_fit(outputs: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """The 2×3 affine map taking the points `outputs` closest (least squares) to `inputs`. PreparedPage's
    to_original is affine: a warp that is not (perspective, bent lines) maps word boxes back to the photo
    within its departure from the closest affine map, and records its own exact parameters."""
    design = np.hstack([outputs, np.ones((len(outputs), 1))])
    affine, *_ = np.linalg.lstsq(design, inputs, rcond=None)
    return np.asarray(affine.T)


# --------------------------------------------------------------------------- colour ink


def suppress_color_ink(image: np.ndarray, *, camera: bool = False) -> StepResult:
    """BGR → gray in which red/blue seals and signatures become paper while black text stays black.

    Dark text is dark in all three channels; coloured ink is bright in at least one. The brightest
    channel therefore keeps black text (even under a seal, where the inks multiply) and drops most of
    the colour; the remaining tint is pushed to white in proportion to the pixel's chroma.

    A coloured pixel is taken for ink only where its 5×5 neighbourhood shares its hue. The colour fringes
    that sub-pixel font rendering (web images, screenshots) and JPEG chroma subsampling leave on the edges
    of a black stroke have opposite hues on its two sides, which cancel in the neighbourhood's mean colour,
    while a seal's or a signature's colour, however thin or faint, survives there diluted. Fringes read
    per pixel as ink were whitened, and every stroke of a small web page thinned to a broken hairline;
    they keep their plain luminance instead.

    On a camera photo (`camera`, from detect_photo) near-gray pixels keep their luminance, not their brightest
    channel: a camera JPEG stores luminance at full resolution and colour at half, noisy; the brightest
    channel adds that noise to every stroke and lightens small text by its amplitude (measured: ink 9 gray
    levels lighter on a phone photo whose ink stands 65 levels below its paper)."""
    if image.ndim == 2:
        return image, {"applied": False}
    blue, green, red = cv2.split(image)
    brightest = cv2.max(cv2.max(blue, green), red)
    chroma = cv2.subtract(brightest, cv2.min(cv2.min(blue, green), red))
    del blue, green, red
    excess = cv2.subtract(chroma, np.full_like(chroma, int(INK_CHROMA_FLOOR)))
    luminance = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # a pixel of chroma under the floor keeps its brightest channel (its luminance on a camera photo); only the
    # others, coloured, are weighed as ink or fringe, a chunk at a time: the page's float arrays would take
    # 50 bytes a pixel (1.7 GB on a 20-Mpx photo), and most of a page is gray
    gray = (luminance if camera else brightest).copy()
    coloured = np.flatnonzero(excess)
    # the 5×5 neighbourhood's colour, as sums (25 × 255 fits 16 bits)
    sums = cv2.boxFilter(image, cv2.CV_16U, (5, 5), normalize=False) if coloured.size else None
    inked = np.zeros(chroma.shape, dtype=bool)
    for begin in range(0, coloured.size, COLOUR_CHUNK):
        at = coloured[begin : begin + COLOUR_CHUNK]
        assert sums is not None
        colour = image.reshape(-1, 3)[at].astype(np.float32)
        local = sums.reshape(-1, 3)[at].astype(np.float32) / 25.0
        offset = colour - colour.mean(axis=1, keepdims=True)  # the pixel's departure from gray
        local_offset = local - local.mean(axis=1, keepdims=True)
        # how much of the pixel's colour its neighbourhood's mean keeps: ≥ 0.38 on seals, ≤ 0.2 on fringes
        shared = (offset * local_offset).sum(axis=1) / np.maximum((offset * offset).sum(axis=1), 1.0)
        ink = np.clip((shared - FRINGE_SHARED_HUE) / FRINGE_SHARED_HUE, 0.0, 1.0)
        extra = excess.reshape(-1)[at].astype(np.float32)
        bright = brightest.reshape(-1)[at].astype(np.float32)
        suppressed = np.minimum(np.rint(bright + INK_CHROMA_BOOST * extra), 255.0)  # as an 8-bit sum saturates
        if camera:
            neutral = luminance.reshape(-1)[at].astype(np.float32)
        else:
            # a fringe moves to its luminance, as the brightest channel of an orange or blue fringe is near
            # paper white
            fringe_share = np.clip(extra / INK_CHROMA_FLOOR, 0.0, 1.0)
            neutral = bright + fringe_share * (luminance.reshape(-1)[at].astype(np.float32) - bright)
        gray.reshape(-1)[at] = np.clip(neutral + ink * (suppressed - neutral) + 0.5, 0, 255).astype(np.uint8)
        inked.reshape(-1)[at] = ink > 0.5
    strong = chroma[::2, ::2] > 60
    return gray, {"applied": True, "neutral": "luminance" if camera else "brightest", "chroma_floor": INK_CHROMA_FLOOR,
                  "boost": INK_CHROMA_BOOST,
                  "coloured_fraction": round(float(np.count_nonzero(strong & inked[::2, ::2])) / strong.size, 5),
                  "fringe_fraction": round(float(np.count_nonzero(strong & ~inked[::2, ::2])) / strong.size, 5)}


# --------------------------------------------------------------------------- resolution


def rescale(gray: np.ndarray, dpi: float) -> StepResult:
    """Bring pages under ~250 dpi (phone photos, fax, low-res scans) or above ~450 dpi to 300 dpi, never
    beyond the pixel budget (pipeline.limits), keeping room for the canvas deskew may grow."""
    height, width = gray.shape[:2]
    wanted = 1.0 if UPSCALE_BELOW_DPI <= dpi <= DOWNSCALE_ABOVE_DPI else TARGET_DPI / dpi
    factor = scale_within_budget(width, height, wanted, growth=deskew_growth(width, height))
    if factor == 1.0:
        return gray, {"factor": 1.0, "dpi": float(dpi)}
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    scaled = cv2.resize(gray, size, interpolation=interpolation)
    fx, fy = size[0] / width, size[1] / height
    # cv2.resize samples output pixel x at input (x + 0.5) / fx - 0.5
    to_input = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]])
    params = {"factor": round(fx, 5), "dpi": round(float(dpi) * fx, 2), "to_input": _matrix_param(to_input)}
    if factor < wanted:
        params["pixel_budget"] = True  # the page would be too large at the wanted resolution
    return scaled, params


# --------------------------------------------------------------------------- noise and background


def estimate_noise(gray: np.ndarray) -> float:
    """Gray-level standard deviation of the sensor/JPEG grain (Immerkær's Laplacian estimate, with a
    median so that text edges do not count as noise)."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    sample = gray[::2, ::2] if gray.size > 4_000_000 else gray
    response = np.abs(cv2.filter2D(sample.astype(np.float32), -1, kernel))
    # for Gaussian noise of deviation s the response has deviation 6 s; the median of |N(0, 6s)| is 4.05 s
    return float(np.median(response) / 4.05)


def denoise(gray: np.ndarray) -> StepResult:
    """3×3 median when the page is grainy (noise, JPEG mosquito noise, photocopy speckle); otherwise
    nothing, so that clean pages keep their thin strokes."""
    sigma = estimate_noise(gray)
    if sigma < NOISE_SIGMA_FOR_MEDIAN:
        return gray, {"noise_sigma": round(sigma, 2), "filter": None}
    return cv2.medianBlur(gray, 3), {"noise_sigma": round(sigma, 2), "filter": "median3"}


def normalize_background(gray: np.ndarray, dpi: float) -> StepResult:
    """Divide by the estimated paper brightness (removes shadows, uneven lighting, yellowing and dark
    scanner borders), then stretch so that the ink reaches black (faded photocopies)."""
    height, width = gray.shape
    shrink = 4
    small = cv2.resize(gray, (max(1, width // shrink), max(1, height // shrink)), interpolation=cv2.INTER_AREA)
    # A closing wider than any stroke replaces text by the surrounding paper; the opening after it drops
    # marks brighter than paper (seal ink turned white by suppress_color_ink, glare) that would otherwise
    # lift the paper estimate and leave a gray halo around them.
    reach = max(3, round(dpi / TARGET_DPI * 40 / shrink) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach))
    paper = cv2.morphologyEx(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), cv2.MORPH_OPEN, kernel)
    paper = cv2.medianBlur(paper, min(reach * 2 + 1, 255))
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(gray, np.maximum(paper, 1), scale=255)
    ink_level = _ink_level(flat)
    if ink_level < 200:
        lut = np.clip((np.arange(256) - ink_level) * 255.0 / (255.0 - ink_level), 0, 255).astype(np.uint8)
        flat = cv2.LUT(flat, lut)
    return flat, {"paper_min": int(paper.min()), "paper_median": int(np.median(paper[::8, ::8])),
                  "ink_level": round(float(ink_level), 1)}


def remove_borders(gray: np.ndarray, dpi: float) -> StepResult:
    """Erase ink touching the image edge (scanner lid shadow, the page edge in a photo, punch holes cut by
    the frame): text keeps a margin, so whatever reaches the edge is not text, except a text line the
    frame cuts through (a partial web image, a cropped photo), which is kept for the OCR to read."""
    margin = max(1, round(BORDER_MARGIN_INCHES * dpi))
    # anything clearly darker than paper, so that the gray fringe of a shadow goes with its dark core
    ink = (gray < BORDER_GRAY).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    height, width = gray.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    # per edge: which components touch it, and their position and size along it and their size across it
    edges = ((x < margin, y, heights, widths), (right > width - margin, y, heights, widths),
             (y < margin, x, widths, heights), (bottom > height - margin, x, widths, heights))
    touching = np.zeros(len(stats), bool)
    cut_text = np.zeros(len(stats), bool)
    for on_edge, along, along_size, across_size in edges:
        on_edge = on_edge.copy()
        on_edge[0] = False
        touching |= on_edge
        cut_text |= _cut_text_line(np.flatnonzero(on_edge), along, along_size, across_size, dpi)
    touching &= ~cut_text
    kept = int(np.count_nonzero(cut_text))
    if not touching.any():
        return gray, {"erased_components": 0, "erased_fraction": 0.0, "kept_cut_letters": kept}
    erase = touching[labels]
    erase = cv2.dilate(erase.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cleaned = gray.copy()
    cleaned[erase] = 255
    return cleaned, {"erased_components": int(np.count_nonzero(touching)),
                     "erased_fraction": round(float(np.count_nonzero(erase)) / erase.size, 5), "kept_cut_letters": kept}


def _cut_text_line(indices: np.ndarray, along: np.ndarray, along_size: np.ndarray, across_size: np.ndarray,
                   dpi: float) -> np.ndarray:
    """Which of the components touching one image edge are letters of a text line the frame cuts through (a
    web image or a photo cropped across a line): letter-sized shapes in a row along the edge, spaced like the
    letters and words of a line. A frame's shadow, a page edge or a punch hole is one large shape or a few
    scattered ones."""
    cut = np.zeros(len(along), bool)
    letter = ((across_size[indices] >= CUT_LETTER_INCHES[0] * dpi) & (across_size[indices] <= CUT_LETTER_INCHES[1] * dpi)
              & (along_size[indices] <= CUT_WORD_INCHES * dpi))
    indices = indices[letter]
    if len(indices) < CUT_LINE_LETTERS:
        return cut
    indices = indices[np.argsort(along[indices])]
    starts, ends = along[indices], along[indices] + along_size[indices]
    gaps = starts[1:] - np.maximum.accumulate(ends)[:-1]
    breaks = np.flatnonzero(gaps > CUT_LINE_GAP_INCHES * dpi) + 1
    for run in np.split(np.arange(len(indices)), breaks):
        span = ends[run].max() - starts[run].min()
        if len(run) >= CUT_LINE_LETTERS and span >= CUT_LINE_MIN_INCHES * dpi:
            cut[indices[run]] = True
    return cut


def remove_specks(gray: np.ndarray, dpi: float) -> StepResult:
    """Erase isolated specks (toner dots of a photocopy, dust): dots at most SPECK_INCHES across with no
    other ink within SPECK_CLEARANCE_INCHES (a square around the dot). The dots of text (i, full stops, tone marks, the dot below)
    always sit next to their letters. Too sparse to count as noise for denoise, they still make Tesseract
    read "-", "_" or letters in the margins and lose the lines beside them."""
    ink = (gray < BORDER_GRAY).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    side = max(1, round(SPECK_INCHES * dpi))
    speck = (stats[:, cv2.CC_STAT_WIDTH] <= side) & (stats[:, cv2.CC_STAT_HEIGHT] <= side)
    speck[0] = False
    if not speck.any():
        return gray, {"erased_specks": 0}
    clearance = max(1, round(SPECK_CLEARANCE_INCHES * dpi))
    # other ink in the square around each speck, from a summed-area table: a few array lookups per speck
    # instead of dilating the whole page with a kernel the size of the clearance
    summed = cv2.integral(((ink > 0) & ~speck[labels]).astype(np.uint8))
    height, width = ink.shape
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x0, y0 = np.maximum(left - clearance, 0), np.maximum(top - clearance, 0)
    x1 = np.minimum(left + stats[:, cv2.CC_STAT_WIDTH] + clearance, width)
    y1 = np.minimum(top + stats[:, cv2.CC_STAT_HEIGHT] + clearance, height)
    other_ink_near = summed[y1, x1] - summed[y0, x1] - summed[y1, x0] + summed[y0, x0]
    isolated = speck & (other_ink_near == 0)
    if not isolated.any():
        return gray, {"erased_specks": 0}
    erase = cv2.dilate(isolated[labels].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # with the gray fringe
    cleaned = gray.copy()
    cleaned[erase] = 255
    return cleaned, {"erased_specks": int(np.count_nonzero(isolated)), "max_side": side, "clearance": clearance}


def remove_marks(gray: np.ndarray, dpi: float) -> StepResult:
    """Erase ink shapes far taller than the page's characters (signature scrawls, hand-drawn marks) where
    they cross no text line: Tesseract turns them into strings of junk symbols. Where such a shape runs
    through a line of characters (a photocopied seal touching the signer's title) that line is kept, less
    the shape's ink that is clearly lighter than the text (a seal or signature turned gray by a photocopy)."""
    scale = dpi / TARGET_DPI
    ink = (gray < MARK_GRAY).astype(np.uint8)
    _, glyph_labels, glyph_stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    glyph_heights = glyph_stats[:, cv2.CC_STAT_HEIGHT]
    glyph = (glyph_heights >= 12 * scale) & (glyph_heights <= 120 * scale)
    glyph[0] = False
    if np.count_nonzero(glyph) < MIN_BLANK_COMPONENTS:
        return gray, {"erased_components": 0, "char_height": None}
    char_height = float(np.median(glyph_heights[glyph]))
    glyph &= glyph_heights <= MARK_HEIGHT_RATIO * char_height
    glyph_pixels = glyph[glyph_labels]
    text_level = float(np.median(gray[glyph_pixels]))
    glyph_boxes = glyph_stats[glyph]
    g_left, g_top = glyph_boxes[:, cv2.CC_STAT_LEFT], glyph_boxes[:, cv2.CC_STAT_TOP]
    g_right, g_bottom = g_left + glyph_boxes[:, cv2.CC_STAT_WIDTH], g_top + glyph_boxes[:, cv2.CC_STAT_HEIGHT]
    # bridge the breaks that JPEG and low resolution leave in a thin pen stroke
    bridge = max(3, round(5 * scale) | 1)
    joined = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (bridge, bridge)))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    tall = np.nonzero(stats[1:, cv2.CC_STAT_HEIGHT] > MARK_HEIGHT_RATIO * char_height)[0] + 1
    cleaned = gray.copy()
    erased = lightened = 0
    # kept rows reach higher above a character than below it: stacked Vietnamese tone marks
    reach, above, below = round(2 * char_height), round(0.7 * char_height), round(0.3 * char_height)
    for label in tall:
        x0, y0, width, height = (int(value) for value in stats[label, :4])
        x1, y1 = x0 + width, y0 + height
        # rows of the mark shared with a line of characters beside or inside it are kept
        near = np.nonzero((g_right > x0 - reach) & (g_left < x1 + reach) & (g_bottom > y0) & (g_top < y1))[0]
        keep_rows = np.zeros(height, dtype=bool)
        for g in _aligned_glyphs(near, g_left, g_top, g_right, g_bottom, char_height):
            keep_rows[max(0, g_top[g] - above - y0):max(0, g_bottom[g] + below - y0)] = True
        window = (slice(y0, y1), slice(x0, x1))
        mark = (labels[window] == label) & (gray[window] < 250)
        lighter = _lighter_than_text(gray[window], mark & ~glyph_pixels[window] & (ink[window] > 0), text_level,
                                     char_height)
        if keep_rows.all() and lighter is None:
            continue
        erase = mark & ~keep_rows[:, None]
        if lighter is not None:
            erase |= mark & lighter
            lightened += 1
        cleaned[window][erase] = 255
        erased += 1
    return cleaned, {"erased_components": erased, "lightened": lightened, "char_height": round(char_height, 1),
                     "text_level": round(text_level, 1)}


def _lighter_than_text(gray: np.ndarray, mark_ink: np.ndarray, text_level: float,
                       char_height: float) -> np.ndarray | None:
    """Where a mark's own ink (at least a character's area of it: a seal ring, not the specks left of a
    suppressed colour seal) is clearly lighter than the text, a median LIGHT_MARK_CONTRAST levels above it:
    the pixels lighter than halfway between the two, which are the mark's, not the characters'."""
    if np.count_nonzero(mark_ink) < char_height ** 2:
        return None
    mark_level = float(np.median(gray[mark_ink]))
    if mark_level - text_level < LIGHT_MARK_CONTRAST:
        return None
    return gray > (mark_level + text_level) / 2


def remove_rules(gray: np.ndarray, dpi: float) -> StepResult:
    """Erase long thin horizontal lines: the short rules under the issuer and the national motto, form
    underlines, table borders. Tesseract reads pieces of them as "_", "-" or "1" glued to the words."""
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    length = max(15, round(RULE_MIN_INCHES * dpi))
    thickest = max(3, round(RULE_MAX_INCHES * dpi))
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    # only thin ones: a horizontal run that is tall as well is a bold glyph or a block, not a rule
    thick = cv2.morphologyEx(lines, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, thickest)))
    rules = cv2.subtract(lines, thick)
    if not rules.any():
        return gray, {"erased_pixels": 0}
    # A faded rule breaks into dashes shorter than `length`: take the thin pieces lying along a found
    # rule with it, so that no dashes are left for Tesseract (letters near the rule are taller: kept).
    along = cv2.dilate(rules, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 5)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    thin = stats[:, cv2.CC_STAT_HEIGHT] <= thickest
    touching = np.zeros(count, dtype=bool)
    touching[np.unique(labels[(along > 0) & (ink > 0)])] = True
    pieces = (thin & touching)
    pieces[0] = False
    erase = cv2.dilate(rules, np.ones((3, 1), np.uint8)) > 0  # with the anti-aliased fringe
    erase |= pieces[labels]
    cleaned = gray.copy()
    cleaned[erase & (gray < 250)] = 255
    return cleaned, {"erased_pixels": int(np.count_nonzero(erase))}


def _aligned_glyphs(candidates: np.ndarray, left: np.ndarray, top: np.ndarray, right: np.ndarray,
                    bottom: np.ndarray, char_height: float) -> list[int]:
    """The candidates that sit in a line of characters: at least two neighbours of similar height on
    about the same baseline within a character or two. Fragments of a pen stroke rarely line up so."""
    centre = (top[candidates] + bottom[candidates]) / 2
    height = (bottom[candidates] - top[candidates]).astype(np.float64)
    lined_up = []
    for i, label in enumerate(candidates):
        same_line = np.abs(centre - centre[i]) < 0.3 * char_height
        similar = (height > 0.6 * height[i]) & (height < 1.6 * height[i])
        gap = np.maximum(left[candidates] - right[label], left[label] - right[candidates])
        close = gap < 1.5 * char_height
        if np.count_nonzero(same_line & similar & close) >= 3:  # itself and two neighbours
            lined_up.append(int(label))
    return lined_up


def _ink_level(flat: np.ndarray) -> float:
    """Typical gray level of the darkest ink (5th percentile of clearly non-paper pixels)."""
    sample = flat[::2, ::2]
    dark = sample[sample < 180]
    if dark.size < 100:
        return 255.0
    return float(np.percentile(dark, 5))


# --------------------------------------------------------------------------- geometry


def _ink_points(gray: np.ndarray, max_points: int = 400_000) -> np.ndarray:
    """(x, y) float coordinates of ink pixels, subsampled evenly when there are many."""
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    ys, xs = np.nonzero(ink)
    if xs.size > max_points:
        keep = np.linspace(0, xs.size - 1, max_points).astype(np.int64)
        xs, ys = xs[keep], ys[keep]
    return np.stack([xs, ys], axis=1).astype(np.float64)


def _profile_sharpness(points: np.ndarray, angle_degrees: float, bin_size: float) -> float:
    """How sharply text lines stand out in the row histogram of `points` rotated by -angle: the sum of
    squared bin counts is largest when every line falls into few rows."""
    theta = math.radians(angle_degrees)
    rows = points[:, 1] * math.cos(theta) - points[:, 0] * math.sin(theta)
    bins = np.floor((rows - rows.min()) / bin_size).astype(np.int64)
    counts = np.bincount(bins).astype(np.float64)
    return float(np.dot(counts, counts))


def _best_angle(points: np.ndarray, low: float, high: float, step: float, bin_size: float) -> tuple[float, float]:
    angles = np.arange(low, high + step / 2, step)
    scores = np.array([_profile_sharpness(points, a, bin_size) for a in angles])
    best = int(np.argmax(scores))
    angle = float(angles[best])
    if 0 < best < len(angles) - 1:  # parabola through the peak and its neighbours: sub-step precision
        left, mid, right = scores[best - 1], scores[best], scores[best + 1]
        curvature = left - 2 * mid + right
        if curvature < 0:
            angle += step * 0.5 * (left - right) / curvature
    return angle, float(scores[best])


def measure_skew(gray: np.ndarray, dpi: float) -> tuple[float, float]:
    """(angle in degrees, counter-clockwise positive, of the text lines; line contrast score)."""
    coarse_scale = min(1.0, 100.0 / dpi)
    small = cv2.resize(gray, None, fx=coarse_scale, fy=coarse_scale, interpolation=cv2.INTER_AREA)
    coarse_points = _ink_points(small)
    if coarse_points.shape[0] < 50:
        return 0.0, 0.0
    angle, _ = _best_angle(coarse_points, -DESKEW_RANGE_DEGREES, DESKEW_RANGE_DEGREES, 0.5, 1.0)
    points = _ink_points(gray)
    fine_bin = max(1.0, dpi / TARGET_DPI)
    angle, _ = _best_angle(points, angle - 0.6, angle + 0.6, 0.1, fine_bin)
    angle, score = _best_angle(points, angle - 0.12, angle + 0.12, 0.02, fine_bin)
    baseline = _profile_sharpness(points, angle + 45.0, fine_bin)  # what a page without lines would give
    return -angle, score / max(baseline, 1.0)


def _rotated_canvas(width: int, height: int, angle_degrees: float) -> tuple[int, int]:
    theta = math.radians(angle_degrees)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    return math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)


def deskew_growth(width: int, height: int) -> float:
    """How many times more pixels the deskew canvas of a `width`×`height` page can have (at the largest angle
    deskew corrects), so that the step before it keeps the page small enough for it. Depends on the page's
    shape only, with 1 % to spare for the rounding of sides after scaling."""
    theta = math.radians(DESKEW_RANGE_DEGREES)
    cos, sin = math.cos(theta), math.sin(theta)
    aspect = width / max(1, height)
    return 1.01 * (aspect * cos + sin) * (aspect * sin + cos) / max(aspect, 1e-9)


def rotate_page(gray: np.ndarray, angle_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate counter-clockwise by `angle_degrees` on a canvas grown to keep the corners; white fill.
    Returns the image and the 2×3 matrix mapping output pixels back to input pixels."""
    height, width = gray.shape
    new_width, new_height = _rotated_canvas(width, height, angle_degrees)
    check_pixels(new_width, new_height, "the deskewed page")
    forward = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle_degrees, 1.0)
    forward[0, 2] += (new_width - width) / 2
    forward[1, 2] += (new_height - height) / 2
    rotated = cv2.warpAffine(gray, forward, (new_width, new_height), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return rotated, cv2.invertAffineTransform(forward)


def deskew(gray: np.ndarray, dpi: float) -> StepResult:
    """Measure the text-line angle (projection profiles: coarse at 100 dpi, then 0.1° and 0.02° at full
    resolution with sub-step interpolation) and rotate it away."""
    angle, contrast = measure_skew(gray, dpi)
    params: dict[str, Any] = {"angle": round(float(angle), 3), "line_contrast": round(float(contrast), 2)}
    if abs(angle) < 0.03 or contrast < 1.2:  # no measurable lines: leave the page alone
        params["rotated"] = False
        return gray, params
    rotated, to_input = rotate_page(gray, -angle)
    params.update(rotated=True, to_input=_matrix_param(to_input))
    return rotated, params


def measure_line_angles(gray: np.ndarray, dpi: float) -> np.ndarray:
    """The text lines' angle cell by cell (CURL_GRID columns × rows, each cell twice a row tall so that it
    holds a few lines): rows of (x, y of the cell's centre as shares of the page, angle in degrees counter-
    clockwise, line contrast), for the cells whose lines stand out (CURL_MIN_CONTRAST)."""
    scale = min(1.0, CURL_DPI / dpi)  # line contrast depends on resolution: measured at one
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    dpi *= scale
    height, width = gray.shape
    columns, rows = CURL_GRID
    xs = np.linspace(0, width, columns + 1).astype(int)
    ys = np.linspace(0, height, rows + 1).astype(int)
    half_row = (ys[1] - ys[0]) // 2
    cells = []
    for row in range(rows):
        top, bottom = max(0, ys[row] - half_row), min(height, ys[row + 1] + half_row)
        for column in range(columns):
            angle, contrast = measure_skew(gray[top:bottom, xs[column]:xs[column + 1]], dpi)
            if contrast >= CURL_MIN_CONTRAST and abs(angle) < DESKEW_RANGE_DEGREES:
                cells.append(((xs[column] + xs[column + 1]) / 2 / width, (ys[row] + ys[row + 1]) / 2 / height,
                              angle, contrast))
    return np.array(cells, dtype=np.float64).reshape(-1, 4)


def straighten_lines(gray: np.ndarray, dpi: float) -> StepResult:
    """Straighten text lines bent by a curled or folded sheet (photos only: a scanner presses the page flat).

    The lines' angle is measured cell by cell (measure_line_angles) and fitted by a quadratic surface over
    the page, weighted by each cell's line contrast, cells far off the fit (a seal, a signature, a table)
    left out. Following the slope along each row, less the page's mean angle (skew, for deskew), gives how
    far a line drifts up or down from the page's centre column; every column is shifted back by it, when
    that reaches CURL_MIN_SHIFT_INCHES. Word boxes map back through the affine map closest to that shift."""
    cells = measure_line_angles(gray, dpi)
    params: dict[str, Any] = {"cells": len(cells), "applied": False}
    if len(cells) < CURL_MIN_CELLS:
        return gray, params
    x, y, angle, contrast = cells.T
    weight = np.sqrt(contrast)
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    kept = np.ones(len(cells), bool)
    for _ in range(3):
        coefficients, *_ = np.linalg.lstsq(terms[kept] * weight[kept, None], angle[kept] * weight[kept], rcond=None)
        kept = np.abs(terms @ coefficients - angle) <= CURL_OUTLIER_DEGREES
        if np.count_nonzero(kept) < CURL_MIN_CELLS:
            return gray, params
    params["cells_fitted"] = int(np.count_nonzero(kept))
    height, width = gray.shape
    grid_x, grid_y = np.meshgrid(np.linspace(0, 1, CURL_FIELD), np.linspace(0, 1, CURL_FIELD))
    grid_terms = np.stack([np.ones_like(grid_x), grid_x, grid_y, grid_x ** 2, grid_x * grid_y, grid_y ** 2], axis=-1)
    angles = grid_terms @ coefficients
    # the page's mean angle is skew, left to deskew: only how the angle varies over the page bends lines
    slope = np.tan(np.radians(angles - angles.mean()))  # counter-clockwise positive: y falls as x grows
    drift = np.cumsum(-slope * width / (CURL_FIELD - 1), axis=1)
    drift -= drift[:, CURL_FIELD // 2][:, None]  # the centre column stays
    largest = float(np.abs(drift).max())
    params.update(fit=[round(float(value), 4) for value in coefficients], max_shift=round(largest, 1))
    if largest < CURL_MIN_SHIFT_INCHES * dpi:
        return gray, params
    field = cv2.resize(drift.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    map_x, map_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    straight = cv2.remap(gray, map_x, map_y + field, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    samples = np.stack([grid_x.ravel() * (width - 1), grid_y.ravel() * (height - 1)], axis=1)
    sources = samples + np.stack([np.zeros(drift.size), drift.ravel()], axis=1)
    params.update(applied=True, to_input=_matrix_param(_affine_fit(samples, sources)))
    return straight, params


def _quarter_turn(gray: np.ndarray, quarters: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by quarters × 90° counter-clockwise; matrix maps output pixels back to input pixels."""
    height, width = gray.shape
    quarters %= 4
    if quarters == 0:
        return gray, np.array([[1.0, 0, 0], [0, 1.0, 0]])
    codes = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
    turned = cv2.rotate(gray, codes[quarters])
    if quarters == 1:  # output (x, y) ← input (width-1-y, x)
        to_input = np.array([[0, -1.0, width - 1], [1.0, 0, 0]])
    elif quarters == 2:
        to_input = np.array([[-1.0, 0, width - 1], [0, -1.0, height - 1]])
    else:  # output (x, y) ← input (y, height-1-x)
        to_input = np.array([[0, 1.0, 0], [-1.0, 0, height - 1]])
    return turned, to_input


class Orientation(NamedTuple):
    """What measure_orientation found: the turn that makes the page upright and how sure that is."""

    quarters: int  # quarter turns counter-clockwise that make the text upright (the best guess)
    evidence: float  # strength of the upright/upside-down choice, in standard deviations (≥ 0)
    line_evidence: float  # |log| of projection sharpness across vs along the lines (per bin of the ink's extent)


def measure_orientation(gray: np.ndarray, dpi: float) -> Orientation:
    """Which way up the page is, at 150 dpi.

    Horizontal vs vertical lines: the projection profile is far sharper across text lines than along
    them. Upright vs upside down: read per text line (never page-wide rows, which mix the two columns of
    a dispatch's closing with their different baselines), see _upright_evidence."""
    scale = min(1.0, ORIENTATION_DPI / dpi)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    points = _ink_points(small)
    if points.shape[0] < 200:
        return Orientation(0, 0.0, 0.0)
    _, horizontal = _best_angle(points, -DESKEW_RANGE_DEGREES, DESKEW_RANGE_DEGREES, 1.0, 1.0)
    _, vertical = _best_angle(points[:, ::-1].copy(), -DESKEW_RANGE_DEGREES, DESKEW_RANGE_DEGREES, 1.0, 1.0)
    # A sum of squared bin counts falls as the ink spreads over more bins: ink spread evenly over B rows scores
    # N²/B. A block of several lines is scored per bin of the ink's extent, so that a portrait page's taller
    # extent does not handicap its text lines against its columns (a photocopy's streak or a seal then tipped the
    # balance sideways); a strip lower than BLOCK_INCHES (a line or two) is its line, and scored as it is.
    extent = np.ptp(points, axis=0) + 1.0
    if extent.min() >= BLOCK_INCHES * dpi * scale:
        horizontal *= float(extent[1])
        vertical *= float(extent[0])
    quarters = 0 if horizontal >= vertical else 1
    upright, _ = _quarter_turn(small, quarters)
    angle, _ = measure_skew(upright, dpi * scale)
    if abs(angle) >= 0.2:
        upright, _ = rotate_page(upright, -angle)
    evidence = _upright_evidence(upright, dpi * scale)
    if evidence < 0:
        quarters += 2
    line_evidence = abs(math.log(max(horizontal, 1.0) / max(vertical, 1.0)))
    return Orientation(quarters % 4, abs(evidence), line_evidence)


def _upright_evidence(gray: np.ndarray, dpi: float) -> float:
    """Signed evidence, in standard deviations, that the horizontal text lines of `gray` stand upright
    (> 0) rather than upside down (< 0).

    Letters are grouped into lines; each line votes with its own glyphs, so columns with different
    baselines never mix. Two cues, both exactly reversed by a half turn:
    - letters sit on one baseline but reach up to two heights (x-height, ascenders/capitals), so more
      letter bottoms than letter tops line up;
    - marks too small to be letters (Vietnamese tone marks, circumflexes, i-dots) lie mostly above the
      middle of their line; only the dot below, commas and full stops lie below it.
    Each letter or mark adds +1, -1 or 0; the sum is divided by the square root of their number."""
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    left, top = stats[:, cv2.CC_STAT_LEFT].astype(np.float64), stats[:, cv2.CC_STAT_TOP].astype(np.float64)
    width, height = stats[:, cv2.CC_STAT_WIDTH].astype(np.float64), stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    area = stats[:, cv2.CC_STAT_AREA]
    letter_sized = (height >= LETTER_INCHES[0] * dpi) & (height <= LETTER_INCHES[1] * dpi) & (area >= 6)
    letter_sized[0] = False
    if np.count_nonzero(letter_sized) < MIN_BLANK_COMPONENTS:
        return 0.0
    char_height = float(np.median(height[letter_sized]))
    letters = (height >= 0.6 * char_height) & (height <= 2.5 * char_height) & (width <= 3 * char_height)
    marks = (height < 0.6 * char_height) & (width < 0.8 * char_height) & (area >= 2)
    letters[0] = marks[0] = False
    # letters closer than a character height join into one line (the gutter between columns does not)
    reach = max(3, round(1.2 * char_height))
    letter_pixels = letters[labels]
    joined = cv2.dilate(letter_pixels.astype(np.uint8), np.ones((1, reach), np.uint8))
    line_count, line_labels = cv2.connectedComponents(joined, connectivity=8)
    line_of = np.zeros(count, np.int64)
    line_of[labels[letter_pixels]] = line_labels[letter_pixels]  # all pixels of a letter share its line
    members = np.nonzero(letters)[0]
    members = members[np.argsort(line_of[members], kind="stable")]
    starts = np.searchsorted(line_of[members], np.arange(line_count + 1))
    tolerance = max(1.0, 0.1 * char_height)
    votes, voters = 0.0, 0
    bands: list[tuple[float, float, float, float]] = []  # x0, x1, top, bottom of each text line
    for line in range(1, line_count):
        glyphs = members[starts[line]:starts[line + 1]]
        if glyphs.size < 4:
            continue
        tops, bottoms = top[glyphs], top[glyphs] + height[glyphs]
        top_line, base_line = float(np.median(tops)), float(np.median(bottoms))
        on_top = int(np.count_nonzero(np.abs(tops - top_line) <= tolerance))
        on_base = int(np.count_nonzero(np.abs(bottoms - base_line) <= tolerance))
        if max(on_top, on_base) < glyphs.size / 2:  # no common top or bottom: not a line of text (seal ring)
            continue
        votes += on_base - on_top
        voters += glyphs.size
        bands.append((float(left[glyphs].min()), float((left[glyphs] + width[glyphs]).max()), top_line, base_line))
    if not bands:
        return 0.0
    mark_votes, mark_count = _mark_votes(np.nonzero(marks)[0], left, top, width, height, np.array(bands), char_height)
    return (votes + mark_votes) / math.sqrt(voters + mark_count)


def _mark_votes(marks: np.ndarray, left: np.ndarray, top: np.ndarray, width: np.ndarray, height: np.ndarray,
                bands: np.ndarray, char_height: float) -> tuple[int, int]:
    """(marks above the middle of their line minus marks below it, marks counted). Each mark belongs to
    the nearest line band within a character height whose horizontal extent holds it; marks near the
    middle (hyphens) do not vote."""
    if marks.size == 0:
        return 0, 0
    x = left[marks] + width[marks] / 2
    y = top[marks] + height[marks] / 2
    x0, x1, band_top, band_bottom = (bands[:, k] for k in range(4))
    beside = (x[:, None] >= x0 - 0.3 * char_height) & (x[:, None] <= x1 + 0.3 * char_height)
    distance = np.maximum(np.maximum(band_top - y[:, None], y[:, None] - band_bottom), 0.0)
    distance = np.where(beside, distance, np.inf)
    nearest = np.argmin(distance, axis=1)
    close = distance[np.arange(marks.size), nearest] <= char_height
    middle = (band_top[nearest] + band_bottom[nearest]) / 2
    third = (band_bottom[nearest] - band_top[nearest]) / 6
    above = int(np.count_nonzero(close & (y < middle - third)))
    below = int(np.count_nonzero(close & (y > middle + third)))
    return above - below, above + below


def fix_orientation(gray: np.ndarray, dpi: float) -> StepResult:
    """Turn pages scanned sideways or upside down (90°/180°/270°) upright.

    A half turn is made only on strong evidence: upside-down scans are rare and turning an upright page
    ruins it. Where the evidence is weak ("sure": false) the page is left as it reads best here, and the
    OCR stage reads it both ways (pipeline.ocr.settle_orientation)."""
    orientation = measure_orientation(gray, dpi)
    sure = orientation.evidence >= SURE_ORIENTATION
    quarters = 0 if orientation.quarters == 2 and not sure else orientation.quarters
    params: dict[str, Any] = {"quarters_ccw": quarters, "evidence": round(float(orientation.evidence), 2),
                              "line_evidence": round(float(orientation.line_evidence), 3), "sure": sure}
    if quarters == 0:
        return gray, params
    turned, to_input = _quarter_turn(gray, quarters)
    params["to_input"] = _matrix_param(to_input)
    return turned, params


def turn_prepared(prepared: PreparedPage, quarters: int, name: str, params: dict[str, Any]) -> PreparedPage:
    """The prepared page turned by `quarters` × 90° counter-clockwise, recorded as step `name` with
    `params`, its pixel mapping back to the original page kept exact."""
    turned, to_input = _quarter_turn(prepared.image, quarters)
    to_original = _homogeneous(np.asarray(prepared.to_original)) @ _homogeneous(to_input)
    step = PreprocessStep(name, {**params, "quarters_ccw": quarters % 4, "to_input": _matrix_param(to_input)})
    return replace(prepared, image=turned, steps=(*prepared.steps, step), to_original=_affine_tuple(to_original))


# --------------------------------------------------------------------------- binarization and checks


def binarize(gray: np.ndarray, dpi: float, k: float = 0.2, dynamic_range: float = 128.0) -> StepResult:
    """Sauvola thresholding (local mean and deviation over ~1/8 inch): survives faded strokes that a
    global threshold drops."""
    window = max(15, round(dpi / 8) | 1)
    values = gray.astype(np.float32)
    mean = cv2.boxFilter(values, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(values * values, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    deviation = np.sqrt(np.maximum(mean_sq - mean * mean, 0))
    threshold = mean * (1 + k * (deviation / dynamic_range - 1))
    binary = np.where(values > threshold, 255, 0).astype(np.uint8)
    return binary, {"method": "sauvola", "window": window, "k": k, "R": dynamic_range}


def is_blank(gray: np.ndarray, dpi: float) -> bool:
    """No text: almost no dark pixels, or too few blobs of character size."""
    dark = gray < 128
    if np.count_nonzero(dark) < BLANK_INK_FRACTION * dark.size:
        return True
    _count, _, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    scale = dpi / TARGET_DPI
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    glyphs = np.count_nonzero((heights >= 8 * scale) & (heights <= 150 * scale))
    return bool(glyphs < MIN_BLANK_COMPONENTS)
