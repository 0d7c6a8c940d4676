"""The OCR channel's training pairs: pages of training-split text typeset and degraded as archives
hold them, read by Tesseract, each printed line paired with what was read on it.

Pages are drawn by a seeded plan (`page_specs`): runs of consecutive lines of one training document,
a Times-metric font (bold and small print included), a degradation family and a page segmentation
mode. The English model reads every family; the Vietnamese model the photo-like and low-resolution
ones, where it misreads tones and hats. OCR results are cached per page (`render.cached_ocr`)."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from build_tools.restore.corpus import Document, corpus_files, iter_documents
from build_tools.restore.render import (
    PHOTO_LIKE,
    TRAINING_DEGRADATIONS,
    TRAINING_FAMILIES,
    OcrPage,
    PageSpec,
    cached_ocr,
)

# share of pages drawn from each corpus file: administrative and legal text first
PAGE_SHARES = {"vbpl_vi_docs": 0.5, "phapdien_vanban": 0.3, "viwiki": 0.2}
FAMILY_WEIGHTS = {"Liberation Serif": 5, "Tinos": 4, "Liberation Sans": 1}
SIZES_PT = (10.0, 11.0, 12.0, 13.0, 13.0, 14.0, 14.0)  # 10–11: small print (notes, tables, distribution)
BOLD_SHARE = 0.12
PSMS = (3, 4, 6)
PAGE_CHARACTERS = 4200  # text drawn per page: a little more than an A4 page of 12 pt holds
RUN_LINES = (3, 25)  # consecutive document lines per run


@dataclass(frozen=True)
class Regime:
    """How the pages of one channel are made."""

    language: str
    degradations: tuple[str, ...]
    pages: int
    seed: int


REGIMES = {
    "eng": Regime("eng", tuple(TRAINING_DEGRADATIONS), 240, 11),
    "vie": Regime("vie", PHOTO_LIKE, 160, 12),
}


def usable(line: str) -> bool:
    """A line worth printing: not a wiki table row or heading marker, of a printable length."""
    return not line.startswith(("|", "==", "{", "!")) and len(line.split()) >= 2 and len(line) <= 1500


def training_documents(corpus_dir: Path) -> dict[str, list[Document]]:
    """The training-split documents of each corpus file (the held-out splits never enter a page)."""
    found: dict[str, list[Document]] = {}
    for path in corpus_files(corpus_dir):
        name = path.name.split(".")[0]
        found[name] = [
            doc for doc in iter_documents(path) if doc.split == "train" and sum(map(usable, doc.lines)) >= 3
        ]
    return found


def page_text(documents: dict[str, list[Document]], rng: random.Random) -> tuple[str, ...]:
    """Runs of consecutive lines from random training documents, about a page of text."""
    names = [n for n in PAGE_SHARES if documents.get(n)]
    name = rng.choices(names, weights=[PAGE_SHARES[n] for n in names])[0]
    paragraphs: list[str] = []
    size = 0
    while size < PAGE_CHARACTERS:
        lines = [line for line in rng.choice(documents[name]).lines if usable(line)]
        start = rng.randrange(len(lines))
        for line in lines[start : start + rng.randint(*RUN_LINES)]:
            paragraphs.append(line)
            size += len(line)
    return tuple(paragraphs)


def page_specs(documents: dict[str, list[Document]], regime: Regime) -> list[PageSpec]:
    """The seeded plan of one regime's pages."""
    rng = random.Random(regime.seed)
    families = list(FAMILY_WEIGHTS)
    specs = []
    for _ in range(regime.pages):
        specs.append(
            PageSpec(
                lines=page_text(documents, rng),
                family=rng.choices(families, weights=[FAMILY_WEIGHTS[f] for f in families])[0],
                bold=rng.random() < BOLD_SHARE,
                size_pt=rng.choice(SIZES_PT),
                spacing=round(rng.uniform(1.1, 1.5), 2),
                justify=rng.random() < 0.7,
                degradation=rng.choice(regime.degradations),
                language=regime.language,
                psm=rng.choice(PSMS),
                seed=rng.getrandbits(32),
            )
        )
    assert all(spec.family in TRAINING_FAMILIES for spec in specs)
    return specs


def _ocr_job(job: tuple[PageSpec, Path]) -> tuple[OcrPage, bool]:
    return cached_ocr(*job)


def _init_worker() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"


def ocr_pages(
    specs: Sequence[PageSpec], cache_dir: Path, jobs: int = 2, log: Callable[[str], None] | None = None
) -> Iterator[OcrPage]:
    """OCR'd pages in plan order, `jobs` processes, cached under `cache_dir`."""
    started, cached = time.time(), 0
    work = [(spec, cache_dir) for spec in specs]
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker) as pool:
        for done, (page, from_cache) in enumerate(pool.imap(_ocr_job, work, chunksize=1), start=1):
            cached += from_cache
            if log and (done % 50 == 0 or done == len(work)):
                log(f"{done}/{len(work)} pages ({cached} from cache) in {time.time() - started:.0f} s")
            yield page
