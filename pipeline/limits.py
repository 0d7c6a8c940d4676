"""Resource limits: the one pixel budget of a page image, whatever stage makes it, and the memory of a worker."""

from __future__ import annotations

import math
import os
import re
import resource
from pathlib import Path

from pipeline.errors import TooLargeError

# The most pixels any image of a page may have: rendered from a PDF, decoded from an image file, upscaled,
# turned, deskewed or cropped for OCR. An A3 page at 600 dpi is 70 Mpx; a blank page at the budget (issue 11's
# hugebox.pdf, 200×200 inches at 50 dpi) peaks at 622 MB in its worker.
MAX_PAGE_PIXELS = 100_000_000

# Memory of one worker process (its address space for data: heap and anonymous mappings, RLIMIT_DATA): by
# default this share of the machine's memory, divided among the workers, and never less than the floor a
# worker needs for its models and one ordinary page. A page that needs more fails alone (E105).
WORKER_MEMORY_SHARE = 0.8
MIN_WORKER_MEMORY = 1 << 30
MIN_WORKER_MEMORY_OPTION = 256 << 20  # below this a worker cannot even hold the stages it imports (~250 MB)
_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


# --------------------------------------------------------------------------- pixels


def fits_budget(width: int, height: int) -> bool:
    return width * height <= MAX_PAGE_PIXELS


def check_pixels(width: int, height: int, what: str, path: str | Path | None = None) -> None:
    """Raise TooLargeError (E105) when a `width`×`height` image would exceed the pixel budget."""
    if width <= 0 or height <= 0 or fits_budget(width, height):
        return
    raise TooLargeError(f"{what} is {width}×{height} pixels, above the {MAX_PAGE_PIXELS // 1_000_000} Mpx "
                        "page budget", path)


def scale_within_budget(width: float, height: float, scale: float, *, growth: float = 1.0) -> float:
    """`scale`, or the largest smaller scale at which a `width`×`height` image, later grown `growth` times in
    pixel count (a deskew canvas), stays within the pixel budget."""
    if width <= 0 or height <= 0:
        return scale
    return min(scale, math.sqrt(MAX_PAGE_PIXELS / (growth * width * height)))


# --------------------------------------------------------------------------- worker memory


def machine_memory() -> int:
    """Bytes of memory this process may use: the physical memory, or the container's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def default_worker_memory(jobs: int) -> int:
    """Each of `jobs` workers gets an equal part of WORKER_MEMORY_SHARE of the machine, at least the floor."""
    return max(MIN_WORKER_MEMORY, int(machine_memory() * WORKER_MEMORY_SHARE / max(1, jobs)))


def parse_size(text: str) -> int:
    """'4G', '1500M', '2GiB', '800000000' → bytes (binary units); ValueError for anything else."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (e.g. 4G, 1500M)")
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not math.isfinite(value) or value >= 1 << 62:
        raise ValueError(f"size out of range: {text!r}")
    return int(value)


def format_size(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB" if size >= 1 << 30 else f"{size / (1 << 20):.0f} MiB"


def limit_memory(size: int) -> None:
    """Cap this process's data memory (heap and anonymous mappings, inherited by its children such as
    Tesseract) at `size` bytes: an allocation beyond it fails (MemoryError) instead of the kernel's OOM killer
    taking the machine's biggest process. Never raises a limit that is already lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        size = min(size, hard)
    if soft == resource.RLIM_INFINITY or size < soft:
        resource.setrlimit(resource.RLIMIT_DATA, (size, hard))


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation that failed: MemoryError, or OpenCV's own out-of-memory error."""
    if isinstance(error, MemoryError):
        return True
    message = str(error)
    return type(error).__name__ == "error" and ("Insufficient memory" in message or "Failed to allocate" in message)
