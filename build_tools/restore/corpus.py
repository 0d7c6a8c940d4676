"""The training corpus: documents of ../shared/corpus, their train/held-out split and weights."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.restore.tokens import clean_line

SOURCE_PREFIX = "### SOURCE "
# How much each file counts in the LM: administrative/legal text above the encyclopedia.
CORPUS_WEIGHTS = {"vbpl_vi_docs": 4, "phapdien_vanban": 2, "viwiki": 1}
# A document's split comes from sha1 of its SOURCE line, mod 40: 0 → "test" (the held-out split the
# benchmark reports on), 1 → "dev" (tuning the decoder's few weights), anything else → "train".
HELD_OUT_MODULUS = 40


@dataclass(frozen=True)
class Document:
    corpus: str  # file stem, e.g. "vbpl_vi_docs"
    source: str  # the SOURCE line's value
    lines: tuple[str, ...]  # non-empty lines, NFC, eth fixed

    @property
    def split(self) -> str:
        return split_of(self.source)


def split_of(source: str) -> str:
    """The split rule: deterministic by document, independent of file order."""
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()
    bucket = int(digest[:8], 16) % HELD_OUT_MODULUS
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def default_corpus_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "corpus"


def iter_documents(path: Path) -> Iterator[Document]:
    """Documents of one corpus file, in file order."""
    corpus = path.name.split(".")[0]
    source: str | None = None
    lines: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if raw.startswith(SOURCE_PREFIX):
                if source is not None:
                    yield Document(corpus, source, tuple(lines))
                source, lines = raw[len(SOURCE_PREFIX) :].strip(), []
                continue
            line = clean_line(raw.strip())
            if line:
                lines.append(line)
    if source is not None:
        yield Document(corpus, source, tuple(lines))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The corpus files that have a weight, in a fixed order."""
    files = [corpus_dir / f"{name}.txt.gz" for name in CORPUS_WEIGHTS]
    return [f for f in files if f.exists()]
