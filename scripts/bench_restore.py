"""Benchmark of diacritic restoration (make bench-restore): held-out text and real page layouts, four
systems measured in the same run on the same inputs.

Systems: the input as given; pyvi's `ViUtils.add_accents` (meant for text typed without marks: it is
run on the input with its marks stripped, `add_accents(remove_accents(x))`); the previous models and
code (the committed state at `--previous`, unpacked from git under build/); congvan as checked out.

Rows: (a) held-out corpus text stripped of its marks: syllable accuracy; (b) English-model OCR of
held-out corpus pages typeset and degraded by the training renderer's families; (c) Vietnamese-model
OCR of such pages degraded like photos and low-resolution scans, and correct text (words changed);
(d) English-model OCR of the born-digital real documents' pages (exact text layer) degraded as scans,
photocopies and print-scan noise; (e) the same pages degraded as phone photos and low-resolution
images, read by the English and by the Vietnamese model; (f) a renderer family training never used:
DejaVu Serif and Noto Serif type, degraded as a fax; (m) English-OCR lines among correct ones; (n)
place names; and, where transcriptions of ../shared/real exist (tests/real/<stem>.txt), Tesseract's
English and Vietnamese OCR of the real scans and photos. Held-out lines that occur verbatim in the
training text are left out everywhere. Then speed (one core), load time and peak memory."""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tarfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from build_tools.restore.corpus import Document, corpus_files, default_corpus_dir, iter_documents  # noqa: E402
from build_tools.restore.gazetteer import unit_names  # noqa: E402
from build_tools.restore.metrics import bag_of_words_f1, cer, fold, syllable_accuracy, words_changed  # noqa: E402
from build_tools.restore.pairs import usable  # noqa: E402
from build_tools.restore.real_layouts import LayoutRun, ocr_layout, page_count  # noqa: E402
from build_tools.restore.render import (  # noqa: E402
    HELD_OUT_FAMILIES,
    PHOTO_LIKE,
    TRAINING_DEGRADATIONS,
    PageSpec,
    cached_ocr,
    ocr_key,
    run_tesseract,
    traineddata_hash,
)
from pipeline.vietnamese import normalize_text, skeleton  # noqa: E402

CACHE_DIR = ROOT / "build" / "restore"
CHILD = ROOT / "build_tools" / "restore" / "restore_child.py"
PREVIOUS = "ca63cb471d4522e2a5723b72c4d9bce9af11d62e"  # the models and code before the real-page channel
SEED = 20240501
LOADS = 3  # fresh processes that time loading the models; the fastest is reported
PAGE_LINES = 30  # lines restored together, as a page of the driver
REAL_LAYOUTS = ("tb11_2025_quangngai_esigned.pdf", "tb565_2024_quangngai_esigned.pdf")
SCAN_LIKE = ("scan", "bilevel", "photocopy", "print_scan")
PHOTOS = ("phone_photo", "low_res")
NAME_LINES_PER_NAME = 3  # held-out lines kept per unit name (Đà Nẵng would fill the set otherwise)
SYSTEMS = ("input", "pyvi", "previous", "congvan")


# --------------------------------------------------------------------------- pyvi


def _pyvi(text: str) -> str:
    from pyvi import ViUtils

    return str(ViUtils.add_accents(ViUtils.remove_accents(text).decode("ascii")))


def _ascii(token: str) -> bool:
    return bool(unicodedata.normalize("NFKD", token).encode("ascii", "ignore").strip())


def pyvi_restore(texts: Iterable[str]) -> list[str]:
    """pyvi as meant: on the text with its marks stripped, line by line. remove_accents deletes what is
    not ASCII, so tokens it would empty (dashes, quotes) are set aside and put back; where pyvi
    raises on a line, that line is done token by token."""
    out = []
    for text in texts:
        lines = []
        for line in text.split("\n"):
            tokens = line.split()
            kept = [t for t in tokens if _ascii(t)]
            try:
                restored = _pyvi(" ".join(kept)).split()
            except (KeyError, IndexError, ValueError):
                restored = []
            if len(restored) != len(kept):
                restored = [_pyvi_word(t) for t in kept]
            it = iter(restored)
            lines.append(" ".join(next(it) if _ascii(t) else t for t in tokens))
        out.append("\n".join(lines))
    return out


def _pyvi_word(word: str) -> str:
    try:
        return _pyvi(word) or word
    except (KeyError, IndexError, ValueError):
        return word


# --------------------------------------------------------------------------- held-out text


def _line_key(line: str) -> int:
    return hash(" ".join(normalize_text(line).lower().split()))


@functools.lru_cache(maxsize=1)
def training_lines() -> frozenset[int]:
    """Hashes of every line of the training documents (case-folded, whitespace collapsed)."""
    return frozenset(
        _line_key(line)
        for path in corpus_files(default_corpus_dir())
        for doc in iter_documents(path)
        if doc.split == "train"
        for line in doc.lines
    )


def unseen(lines: Iterable[str]) -> list[str]:
    """The lines that do not occur verbatim in the training text."""
    seen = training_lines()
    return [line for line in lines if _line_key(line) not in seen]


@functools.lru_cache(maxsize=1)
def test_documents() -> dict[str, list[Document]]:
    """The held-out ("test") documents of each corpus file, their lines deduplicated against training."""
    found: dict[str, list[Document]] = {}
    for path in corpus_files(default_corpus_dir()):
        docs = []
        for doc in iter_documents(path):
            if doc.split == "test":
                lines = tuple(unseen(line for line in doc.lines if usable(line)))
                if lines:
                    docs.append(Document(doc.corpus, doc.source, lines))
        found[path.name.split(".")[0]] = docs
    return found


def stripped_pages(per_corpus: int) -> dict[str, list[str]]:
    """Pages of held-out lines, up to `per_corpus` syllables per corpus file."""
    pages: dict[str, list[str]] = {}
    for name, docs in test_documents().items():
        lines: list[str] = []
        count = 0
        for line in (line for doc in docs for line in doc.lines):
            if len(line.split()) < 4 or len(line) > 600:
                continue
            lines.append(line)
            count += len(line.split())
            if count >= per_corpus:
                break
        pages[name] = ["\n".join(lines[i : i + PAGE_LINES]) for i in range(0, len(lines), PAGE_LINES)]
    return pages


def admin_paragraphs(rng: random.Random, size: int) -> tuple[str, ...]:
    """About a page of held-out administrative text: runs of lines of one test document."""
    docs = [d for name in ("vbpl_vi_docs", "phapdien_vanban") for d in test_documents().get(name, [])]
    paragraphs: list[str] = []
    while sum(map(len, paragraphs)) < size:
        doc = rng.choice(docs)
        start = rng.randrange(len(doc.lines))
        paragraphs.extend(doc.lines[start : start + rng.randint(3, 25)])
    return tuple(paragraphs)


def place_mentions(per_name: int, limit: int) -> list[str]:
    """Held-out lines naming an administrative unit of the gazetteer after its type word (xã Nhật
    Tiến, huyện Hữu Lũng), at most `per_name` lines per name, `limit` lines in all."""
    per: dict[str, int] = {}
    lines: list[str] = []
    for docs in test_documents().values():
        for line in (line for doc in docs for line in doc.lines):
            if len(line) > 600 or len(line.split()) < 4:
                continue
            found = mentions(line)
            if found and any(per.get(name, 0) < per_name for name in found):
                for name in found:
                    per[name] = per.get(name, 0) + 1
                lines.append(line)
                if len(lines) >= limit:
                    return lines
    return lines


@functools.lru_cache(maxsize=1)
def _mention_pattern() -> tuple[re.Pattern[str], dict[str, set[str]]]:
    names = unit_names()
    kinds = sorted({k for v in names.values() for k in v}, key=len, reverse=True)
    # the words after the type word are looked at, not consumed: "huyện ủy thành phố Huế"
    return re.compile(f"(?<!\\w)(?i:({'|'.join(kinds)})) (?=((?:[^\\s,;.:()]+ ?){{1,4}}))"), names


def mentions(line: str) -> list[str]:
    """Unit names in `line`, capitalised, after a type word they go with (the longest name)."""
    pattern, names = _mention_pattern()
    found = []
    for match in pattern.finditer(unicodedata.normalize("NFC", line)):
        kind, words = match.group(1).lower(), match.group(2).split()
        capitalised = 0
        while capitalised < len(words) and words[capitalised][:1].isupper():
            capitalised += 1
        for size in range(capitalised, 0, -1):
            name = " ".join(words[:size])
            if kind in names.get(name, ()):
                found.append(name)
                break
    return found


def names_written(references: Sequence[str], outputs: Sequence[str]) -> tuple[int, int]:
    """Unit names of the references (after their type word) that the outputs write right, case aside."""
    right = total = 0
    for reference, output in zip(references, outputs, strict=True):
        produced = fold(output)
        for name in mentions(reference):
            total += 1
            right += re.search(f"(?<!\\w){re.escape(name.lower())}(?!\\w)", produced) is not None
    return right, total


# --------------------------------------------------------------------------- OCR'd test sets


@dataclass
class LineSet:
    """Lines to restore: references, inputs, OCR confidences (None: typed or pasted text)."""

    references: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    confidences: list[list[float | None]] = field(default_factory=list)
    cached: int = 0  # OCR'd pages that came from the cache
    pages: int = 0

    def add(self, intended: str, observed: str, confidences: Sequence[float | None]) -> None:
        self.references.append(intended)
        self.inputs.append(observed)
        self.confidences.append(list(confidences))

    def paged(self) -> tuple[list[str], list[list[float | None]]]:
        """Inputs joined into pages of PAGE_LINES lines, with their word confidences."""
        pages, confidences = [], []
        for start in range(0, len(self.inputs), PAGE_LINES):
            pages.append("\n".join(self.inputs[start : start + PAGE_LINES]))
            confidences.append([c for line in self.confidences[start : start + PAGE_LINES] for c in line])
        return pages, confidences


def typeset_set(
    pages: int, families: Sequence[str], degradations: Sequence[str], language: str, seed: int
) -> LineSet:
    """Held-out administrative text typeset, degraded and OCR'd, `pages` pages."""
    rng = random.Random(seed)
    result = LineSet()
    for _ in range(pages):
        spec = PageSpec(
            lines=admin_paragraphs(rng, 4200),
            family=rng.choice(list(families)),
            bold=rng.random() < 0.12,
            size_pt=rng.choice((11.0, 12.0, 13.0, 14.0)),
            spacing=round(rng.uniform(1.1, 1.5), 2),
            justify=rng.random() < 0.7,
            degradation=rng.choice(list(degradations)),
            language=language,
            psm=3,
            seed=rng.getrandbits(32),
        )
        page, from_cache = cached_ocr(spec, CACHE_DIR / "ocr")
        result.pages += 1
        result.cached += from_cache
        for line in page.lines:
            if line.observed and _line_key(line.intended) not in training_lines():
                result.add(line.intended, line.observed, line.confidences)
    return result


def lines_set(lines: Sequence[str], family: str, degradation: str, language: str, seed: int) -> LineSet:
    """Given held-out lines typeset as pages and OCR'd."""
    result = LineSet()
    for number, start in enumerate(range(0, len(lines), 25)):
        spec = PageSpec(
            tuple(lines[start : start + 25]),
            family,
            False,
            12.0,
            1.3,
            False,
            degradation,
            language,
            3,
            seed + number,
        )
        page, from_cache = cached_ocr(spec, CACHE_DIR / "ocr")
        result.pages += 1
        result.cached += from_cache
        for line in page.lines:
            if line.observed:
                result.add(line.intended, line.observed, line.confidences)
    return result


def layout_set(real_dir: Path, degradations: Sequence[str], language: str, seeds: int) -> LineSet:
    """The real born-digital pages degraded `seeds` times in each way and OCR'd; lines that occur in
    the training text (letterhead boilerplate) and lines the OCR lost entirely are not scored."""
    result = LineSet()
    for name in REAL_LAYOUTS:
        pdf = real_dir / name
        if not pdf.exists():
            continue
        for page in range(page_count(pdf)):
            for degradation in degradations:
                for seed in range(seeds):
                    run = LayoutRun(pdf, page, degradation, SEED + seed, language, 3)
                    lines, from_cache = ocr_layout(run, CACHE_DIR / "ocr")
                    result.pages += 1
                    result.cached += from_cache
                    for line in unseen(line.intended for line in lines):
                        found = next(x for x in lines if x.intended == line)
                        if found.observed:
                            result.add(found.intended, found.observed, found.confidences)
    return result


def mixed_set(garbled: LineSet, correct: Sequence[str], rng: random.Random) -> tuple[LineSet, list[bool]]:
    """Blocks of 1–4 lines, each block English-model OCR or correct text (no confidences)."""
    result = LineSet()
    flags: list[bool] = []
    pending = list(zip(garbled.references, garbled.inputs, garbled.confidences, strict=True))
    plain = list(correct)
    while pending or plain:
        kind = bool(pending) and (not plain or rng.random() < 0.5)
        for _ in range(rng.randint(1, 4)):
            if kind and pending:
                result.add(*pending.pop())
            elif not kind and plain:
                line = plain.pop()
                result.add(line, line, [None] * len(line.split()))
            else:
                break
            flags.append(kind)
    return result, flags


# --------------------------------------------------------------------------- real scans and photos


def real_ocr(document: Path, index: int, language: str) -> tuple[str, list[float | None], bool]:
    """Tesseract's text (psm 3, lines as it reads them) of page `index` of a real document as congvan
    prepares it (ingest: PDF pages rendered as a viewer shows them; preprocess: marks, upscaling,
    deskew), with its word confidences; cached by the file's hash, the page, the model, the
    preprocessing code and Tesseract's version and traineddata."""
    from pipeline import preprocess
    from pipeline.ingest import load_page

    code = hashlib.sha1(Path(preprocess.__file__).read_bytes()).hexdigest()
    key = ocr_key(
        "real-page",
        hashlib.sha1(document.read_bytes()).hexdigest(),
        index,
        code,
        language,
        3,
        traineddata_hash(language),
    )
    path = CACHE_DIR / "ocr" / key[:2] / f"{key}.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["text"], data["confidences"], True
    prepared = preprocess.preprocess_page(load_page(document, index))
    rows = run_tesseract(prepared.image, prepared.dpi, language, 3)
    lines: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        lines.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    text = "\n".join(" ".join(r["text"].strip() for r in words) for words in lines.values())
    confidences: list[float | None] = [float(r["conf"]) for words in lines.values() for r in words]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"text": text, "confidences": confidences}, ensure_ascii=False), encoding="utf-8"
    )
    return text, confidences, False


# --------------------------------------------------------------------------- systems


def previous_tree(revision: str) -> Path:
    """`pipeline/` and `models/` of `revision`, unpacked under build/ (once)."""
    out = CACHE_DIR / f"previous-{revision[:12]}"
    if not (out / "pipeline").exists():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "pipeline", "models"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(out, filter="data")
    return out


def request_of(
    sets: dict[str, tuple[list[str], list[list[float | None]] | None]], timed: Sequence[str]
) -> dict[str, object]:
    """What restore_child reads on stdin: the page sets and which of them are timed."""
    return {"sets": {k: {"pages": p, "confidences": c} for k, (p, c) in sets.items()}, "timed": list(timed)}


def run_restorer(
    sets: dict[str, tuple[list[str], list[list[float | None]] | None]],
    timed: Sequence[str],
    tree: Path | None,
) -> dict[str, object]:
    """The restorer of `tree` (None: this checkout) over the page sets in a process of its own, and
    its load time as the best of LOADS fresh processes."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("CONGVAN_MODELS", None)
    # This checkout's code, not whatever an editable install elsewhere maps `pipeline` to.
    env["PYTHONPATH"] = str(tree or ROOT)
    request = request_of(sets, timed)
    child = subprocess.run(
        [sys.executable, str(CHILD)], input=json.dumps(request), capture_output=True, text=True, env=env
    )
    if child.returncode:
        raise SystemExit(f"restoring process failed:\n{child.stderr[-3000:]}")
    measured: dict[str, object] = json.loads(child.stdout)
    loads = [float(measured["load_seconds"])]  # type: ignore[arg-type]
    for _ in range(LOADS - 1):
        run = subprocess.run(
            [sys.executable, str(CHILD), "--load"], capture_output=True, text=True, check=True, env=env
        )
        loads.append(float(run.stdout))
    measured["load_seconds"] = min(loads)
    return measured


# --------------------------------------------------------------------------- report


def _pages_of(lines: list[str], like: list[str]) -> list[list[str]]:
    """`lines` cut into pages with as many lines as each page of `like`."""
    out, start = [], 0
    for page in like:
        count = page.count("\n") + 1
        out.append(lines[start : start + count])
        start += count
    return out


Row = tuple[str, ...]


def pct(value: float) -> str:
    return f"{value:.2%}"


class Report:
    def __init__(self, outputs: dict[str, dict[str, list[str]]]) -> None:
        self.outputs = outputs  # system → set name → restored pages
        self.rows: list[Row] = []

    def lines(self, system: str, name: str, given: list[str]) -> list[str]:
        """A system's output for set `name` whose input is `given`, line by line."""
        if system == "input":
            pages = given
        elif system == "pyvi":
            pages = pyvi_restore(given)
        else:
            pages = self.outputs[system][name]
        return [line for page in pages for line in page.split("\n")]

    def line_rows(self, name: str, label: str, data: LineSet) -> None:
        """CER and syllable accuracy of a line set, every system."""
        if not data.references:
            return
        per = {system: self.lines(system, name, data.inputs) for system in SYSTEMS}
        note = f" ({len(data.references)} lines" + (
            f"; {data.cached}/{data.pages} pages OCR from cache)" if data.pages else ")"
        )
        self.rows.append((f"{label}: CER{note}", *(pct(cer(data.references, per[s])) for s in SYSTEMS)))
        accuracy = [syllable_accuracy(data.references, per[s]) for s in SYSTEMS]
        total = accuracy[0][1]
        self.rows.append(
            (
                f"{label}: syllable accuracy ({total} syllables)",
                *(pct(ok / max(total, 1)) for ok, _ in accuracy),
            )
        )

    def print(self) -> None:
        print("| measure | input | pyvi (marks stripped) | previous models | congvan |")
        print("|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--syllables", type=int, default=12000, help="held-out syllables per corpus file for (a)"
    )
    parser.add_argument("--pages", type=int, default=12, help="typeset pages for (b), (c) and (f) each")
    parser.add_argument(
        "--layout-seeds", type=int, default=1, help="degradations of each real page per family"
    )
    parser.add_argument("--name-lines", type=int, default=200, help="held-out lines naming places for (n)")
    parser.add_argument(
        "--real", type=Path, default=ROOT.parent / "shared" / "real", help="the real documents"
    )
    parser.add_argument(
        "--transcriptions", type=Path, default=ROOT / "tests" / "real", help="<stem>.txt of them"
    )
    parser.add_argument("--previous", default=PREVIOUS, help="git revision of the previous models and code")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--dump-inputs",
        type=Path,
        help="only write the restorer's request (every held-out input set, JSON) here and stop; "
        "scripts/restore_identity.py restores it with two versions and compares the texts",
    )
    args = parser.parse_args()
    started = time.time()

    stripped = stripped_pages(args.syllables)
    name_lines = place_mentions(NAME_LINES_PER_NAME, args.name_lines)
    # the OCR'd sets in two processes (Tesseract is the slow part; every page is cached in build/)
    families = ["Liberation Serif", "Tinos"]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {
            "eng": pool.submit(typeset_set, args.pages, families, list(TRAINING_DEGRADATIONS), "eng", SEED),
            "vie": pool.submit(typeset_set, args.pages, families, list(PHOTO_LIKE), "vie", SEED + 1),
            "fax": pool.submit(typeset_set, args.pages, list(HELD_OUT_FAMILIES), ["fax"], "eng", SEED + 2),
            "d": pool.submit(layout_set, args.real, SCAN_LIKE, "eng", args.layout_seeds),
            "e": pool.submit(layout_set, args.real, PHOTOS, "eng", args.layout_seeds),
            "e:vie": pool.submit(layout_set, args.real, PHOTOS, "vie", args.layout_seeds),
            "n:eng": pool.submit(lines_set, name_lines, "Liberation Serif", "scan", "eng", SEED + 3),
            "n:vie": pool.submit(lines_set, name_lines, "Liberation Serif", "low_res", "vie", SEED + 4),
            "real": pool.submit(real_sets, args.real, args.transcriptions),
        }
        done = {key: job.result() for key, job in jobs.items()}
    eng, vie, fax = done["eng"], done["vie"], done["fax"]
    layouts_scan, layouts_photo, layouts_photo_vie = done["d"], done["e"], done["e:vie"]
    correct_pages = [page for pages in stripped.values() for page in pages]
    taken = set(eng.references)
    others = [line for page in correct_pages for line in page.split("\n") if line not in taken]
    mixed, mixed_flags = mixed_set(
        eng,
        random.Random(SEED + 1).sample(others, min(len(eng.inputs), len(others))),
        random.Random(SEED + 2),
    )
    names = {
        "n:stripped": LineSet(
            list(name_lines), [skeleton(line) for line in name_lines], [[] for _ in name_lines]
        ),
        "n:eng": done["n:eng"],
        "n:vie": done["n:vie"],
        "n:correct": LineSet(list(name_lines), list(name_lines), [[] for _ in name_lines]),
    }
    real = done["real"]

    sets: dict[str, tuple[list[str], list[list[float | None]] | None]] = {}
    for corpus, pages in stripped.items():
        sets[f"a:{corpus}"] = ([skeleton(normalize_text(p)) for p in pages], None)
    sets["correct"] = (correct_pages, None)
    for key, data in (
        ("b", eng),
        ("c", vie),
        ("d", layouts_scan),
        ("e", layouts_photo),
        ("e:vie", layouts_photo_vie),
        ("f", fax),
        ("m", mixed),
        *names.items(),
    ):
        pages, confidences = data.paged()
        sets[key] = (
            pages,
            confidences if any(any(c is not None for c in page) for page in confidences) else None,
        )
    for key, (_, pages, confidences) in real.items():
        sets[key] = (pages, confidences)
    timed = [k for k in sets if k.startswith("a:")] + ["b", "c", "correct"]
    if args.dump_inputs:
        args.dump_inputs.write_text(json.dumps(request_of(sets, timed), ensure_ascii=False), encoding="utf-8")
        print(f"inputs written to {args.dump_inputs}", file=sys.stderr)
        return 0
    print(f"inputs ready in {time.time() - started:.0f} s; restoring", file=sys.stderr)
    measured = {
        "congvan": run_restorer(sets, timed, None),
        "previous": run_restorer(sets, timed, previous_tree(args.previous)),
    }
    report = Report({system: m["outputs"] for system, m in measured.items()})  # type: ignore[misc]

    # (a)
    accuracy: dict[str, list[tuple[int, int]]] = {s: [] for s in SYSTEMS}
    for corpus, pages in stripped.items():
        given = sets[f"a:{corpus}"][0]
        for system in SYSTEMS:
            accuracy[system].append(
                syllable_accuracy(
                    pages,
                    ["\n".join(x) for x in _pages_of(report.lines(system, f"a:{corpus}", given), pages)],
                )
            )
    total = sum(n for _, n in accuracy["input"])
    report.rows.append(
        (
            f"(a) held-out text stripped of its marks: syllable accuracy ({total} syllables)",
            *(pct(sum(ok for ok, _ in accuracy[s]) / total) for s in SYSTEMS),
        )
    )
    report.line_rows(
        "b", "(b) English-model OCR, held-out pages, training renderer (6 degradation families)", eng
    )
    report.line_rows("c", "(c) Vietnamese-model OCR, held-out pages degraded as photos / low resolution", vie)
    changed = {
        s: words_changed(
            correct_pages,
            pyvi_restore(correct_pages) if s == "pyvi" else report.outputs[s]["correct"],
        )[0]
        for s in SYSTEMS[1:]
    }
    words = sum(len(page.split()) for page in correct_pages)
    report.rows.append(
        (
            f"(c) correct held-out text: words changed ({words} words)",
            "—",
            *(f"{changed[s] / words:.3%} ({changed[s]})" for s in SYSTEMS[1:]),
        )
    )
    report.line_rows(
        "d",
        "(d) English-model OCR of real layouts (tb11, tb565) degraded as scans / photocopies / print-scan",
        layouts_scan,
    )
    report.line_rows(
        "e", "(e) English-model OCR of real layouts degraded as phone photos / low resolution", layouts_photo
    )
    report.line_rows(
        "e:vie", "(e) Vietnamese-model OCR of the same photo-like real layouts", layouts_photo_vie
    )
    report.line_rows("f", "(f) unseen renderer family: DejaVu/Noto Serif, fax, English-model OCR", fax)
    garbled = LineSet(
        *(
            list(x for x, flag in zip(values, mixed_flags, strict=True) if flag)
            for values in (mixed.references, mixed.inputs, mixed.confidences)
        )
    )
    per = {s: report.lines(s, "m", mixed.inputs) for s in SYSTEMS}
    report.rows.append(
        (
            f"(m) mixed pages: CER of the English-OCR lines ({len(garbled.references)})",
            *(
                pct(cer(garbled.references, [x for x, f in zip(per[s], mixed_flags, strict=True) if f]))
                for s in SYSTEMS
            ),
        )
    )
    good_in = [x for x, f in zip(mixed.inputs, mixed_flags, strict=True) if not f]
    report.rows.append(
        (
            f"(m) mixed pages: words changed on the correct lines ({len(good_in)})",
            "—",
            *(
                pct(
                    words_changed(good_in, [x for x, f in zip(per[s], mixed_flags, strict=True) if not f])[0]
                    / max(1, sum(len(i.split()) for i in good_in))
                )
                for s in SYSTEMS[1:]
            ),
        )
    )
    for key, label in (
        ("n:stripped", "stripped"),
        ("n:eng", "English-model OCR"),
        ("n:vie", "Vietnamese-model OCR, low resolution"),
        ("n:correct", "correct text"),
    ):
        data = names[key]
        right = [names_written(data.references, report.lines(s, key, data.inputs)) for s in SYSTEMS]
        report.rows.append(
            (
                f"(n) place names written right — {label} ({right[0][1]} names)",
                *(pct(r / max(n, 1)) for r, n in right),
            )
        )
    for key, (references, pages, _) in real.items():
        _, language, kind = key.split(":")
        label = f"(r) real {kind} pages, Tesseract {language}"
        per_system = {
            "input": pages,
            "pyvi": pyvi_restore(pages),
            **{s: report.outputs[s][key] for s in SYSTEMS[2:]},
        }
        f1 = {
            s: sum(bag_of_words_f1(r, o) for r, o in zip(references, per_system[s], strict=True))
            / len(references)
            for s in SYSTEMS
        }
        report.rows.append(
            (f"{label}: bag-of-words F1, mean of {len(references)} pages", *(f"{f1[s]:.3f}" for s in SYSTEMS))
        )
        report.rows.append(
            (
                f"{label}: CER (reading-order differences count here)",
                *(pct(cer(references, per_system[s])) for s in SYSTEMS),
            )
        )
        ok = [syllable_accuracy(references, per_system[s]) for s in SYSTEMS]
        report.rows.append(
            (f"{label}: syllable accuracy ({ok[0][1]} syllables)", *(pct(a / max(n, 1)) for a, n in ok))
        )

    def speed(system: str) -> str:
        speeds: dict[str, float] = measured[system]["speeds"]  # type: ignore[assignment]
        stripped_speed = min(v for k, v in speeds.items() if k.startswith("a:"))
        return f"{stripped_speed:,.0f} / {speeds['b']:,.0f} / {speeds['c']:,.0f} / {speeds['correct']:,.0f}"

    def load(system: str) -> str:
        return f"{measured[system]['load_seconds']:.2f} / {measured[system]['peak_mb']:.0f}"

    report.rows.append(
        (
            "speed: syllables/s, one core, cold cache, best of 5 — stripped / English OCR / Vietnamese OCR / correct",
            "—",
            "—",
            speed("previous"),
            speed("congvan"),
        )
    )
    report.rows.append(
        (f"model load (s, best of {LOADS} processes) / peak RSS (MB)", "—", "—", load("previous"), load("congvan"))
    )
    report.print()
    print(f"\n{time.time() - started:.0f} s in all", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"rows": report.rows}, ensure_ascii=False, indent=1) + "\n")
    return 0


def real_kind(document: Path, transcriptions: Path) -> str:
    """scan, photo, web-image or born-digital: the gold record's `kind`, else the file name's hint."""
    gold = transcriptions / f"{document.stem}.gold.json"
    if gold.exists():
        kind = json.loads(gold.read_text(encoding="utf-8")).get("kind")
        if kind:
            return str(kind)
    for hint, kind in (("_photo", "photo"), ("_web", "web-image"), ("_esigned", "born-digital")):
        if hint in document.stem:
            return kind
    return "scan"


def real_sets(
    real_dir: Path, transcriptions: Path
) -> dict[str, tuple[list[str], list[str], list[list[float | None]]]]:
    """Per OCR model and kind of document, the transcribed pages of the real documents: (references,
    OCR text, confidences)."""
    from pipeline.ingest import open_document

    found: dict[str, tuple[list[str], list[str], list[list[float | None]]]] = {}
    if not transcriptions.is_dir():
        return found
    for gold in sorted(transcriptions.glob("*.txt")):
        documents = [p for p in real_dir.glob(gold.stem + ".*") if p.suffix not in (".txt", ".json")]
        if not documents:
            continue
        texts = gold.read_text(encoding="utf-8").split("\f")
        kind = real_kind(documents[0], transcriptions)
        for language in ("eng", "vie"):
            references, pages, confidences = found.setdefault(f"r:{language}:{kind}", ([], [], []))
            for index, text in enumerate(texts[: open_document(documents[0]).page_count]):
                ocr_text, conf, _ = real_ocr(documents[0], index, language)
                references.append(text)
                pages.append(ocr_text)
                confidences.append(conf)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
