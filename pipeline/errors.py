"""Error classes of congvan, each with a stable code and the process exit code it maps to."""

from __future__ import annotations

import errno
from pathlib import Path

EXIT_OK = 0
EXIT_MIXED = 1  # several inputs failed for different reasons
EXIT_USAGE = 2  # bad command line or options (argparse, UsageError)
EXIT_INTERRUPTED = 130


def printable(text: str) -> str:
    """`text` with what a terminal would not show as written escaped: control characters (a newline in a file
    name would split a one-line message, ESC sequences would drive the terminal), format characters such as
    bidirectional overrides, and undecodable bytes of a file name (shown as the byte, \\xff)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return ascii(char)[1:-1]


class CongvanError(Exception):
    """Base class: a one-line, user-facing failure tied (when known) to one input file."""

    code = "E000"
    exit_code = 1
    label = "error"

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = printable(" ".join(str(message).split()))  # always one line
        self.path = printable(str(path)) if path is not None else None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message} [{self.code}]"


class UsageError(CongvanError):
    """Options that cannot work together or a value out of range, from the command line or a library call."""

    code = "E001"
    exit_code = EXIT_USAGE
    label = "usage"


class InputError(CongvanError):
    """The input cannot be turned into pages."""

    code = "E100"
    exit_code = 3
    label = "bad input"


class EmptyFileError(InputError):
    code = "E101"
    exit_code = 4
    label = "empty file"


class CorruptFileError(InputError):
    code = "E102"
    exit_code = 5
    label = "corrupt file"


class UnsupportedFormatError(InputError):
    code = "E103"
    exit_code = 6
    label = "not a document"


class EncryptedError(InputError):
    code = "E104"
    exit_code = 7
    label = "encrypted"


class TooLargeError(InputError):
    code = "E105"
    exit_code = 8
    label = "too large"


class OcrError(CongvanError):
    code = "E200"
    exit_code = 9
    label = "ocr failed"


class OcrTimeoutError(OcrError):
    code = "E201"
    exit_code = 10
    label = "ocr timeout"


class MissingDependencyError(CongvanError):
    """An external program or model congvan needs is not installed."""

    code = "E300"
    exit_code = 11
    label = "missing dependency"


class ArchiveError(CongvanError):
    code = "E400"
    exit_code = 12
    label = "archive error"


class NotFoundError(CongvanError):
    code = "E401"
    exit_code = 13
    label = "not found"


class InvalidCorrectionError(ArchiveError):
    """A correction names a field that cannot be corrected or gives a value that field cannot hold."""

    code = "E402"
    exit_code = 15
    label = "invalid correction"


class ExportError(CongvanError):
    code = "E500"
    exit_code = 14
    label = "export failed"


def os_error_reason(error: OSError) -> str:
    """What went wrong with a file operation, in words a user acts on (a full disk is said so)."""
    reason = error.strerror or type(error).__name__
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({reason})"
    if error.errno == errno.EFBIG:
        return f"disk full or file-size limit reached ({reason})"
    return reason


ERROR_CLASSES: tuple[type[CongvanError], ...] = (
    CongvanError,
    UsageError,
    InputError,
    EmptyFileError,
    CorruptFileError,
    UnsupportedFormatError,
    EncryptedError,
    TooLargeError,
    OcrError,
    OcrTimeoutError,
    MissingDependencyError,
    ArchiveError,
    NotFoundError,
    InvalidCorrectionError,
    ExportError,
)


def exit_code_for(errors: list[CongvanError]) -> int:
    """One failure class → its exit code; failures of several classes → EXIT_MIXED; none → 0."""
    codes = {error.exit_code for error in errors}
    if not codes:
        return EXIT_OK
    return codes.pop() if len(codes) == 1 else EXIT_MIXED
