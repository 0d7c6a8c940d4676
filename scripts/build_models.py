"""Build the restoration models in models/ from ../shared/corpus (make models): LM, then OCR channel."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from build_tools.restore.case_build import case_arrays, case_counts  # noqa: E402
from build_tools.restore.channel_build import (  # noqa: E402
    PairStats,
    build_reading_index,
    channel_to_json,
    reading_arrays,
    train_channel,
    word_pairs,
)
from build_tools.restore.corpus import (  # noqa: E402
    CORPUS_WEIGHTS,
    HELD_OUT_MODULUS,
    corpus_files,
    default_corpus_dir,
    iter_documents,
)
from build_tools.restore.encode import EncodedCorpus, UnitEncoder  # noqa: E402
from build_tools.restore.gazetteer import gazetteer_lines  # noqa: E402
from build_tools.restore.lm_build import build_lm, build_vocabulary  # noqa: E402
from build_tools.restore.pairs import REGIMES, ocr_pages, page_specs, training_documents  # noqa: E402
from build_tools.restore.regime_build import (  # noqa: E402
    estimate_regimes,
    evidence_counts,
    line_evidence,
    regimes_to_json,
    word_list_counts,
)
from pipeline.restore.case import CaseModel  # noqa: E402
from pipeline.restore.channel import ReadingIndex, SubstitutionChannel  # noqa: E402
from pipeline.restore.lm import EOS_ID, NgramModel  # noqa: E402
from pipeline.restore.models import CASE_FILE, CHANNEL_FILE, LM_FILE, MODELS_DIR, READINGS_FILE  # noqa: E402
from pipeline.restore.regimes import Lexicon, Regime, RegimeModel, bare_shares  # noqa: E402
from pipeline.vietnamese import generate_inventory, skeleton, tone_key  # noqa: E402

LM_ORDER = 4
GAZETTEER = "gazetteer"
# how much a synthetic gazetteer line counts (the legal documents count 4): enough for a unit's name to
# outweigh a more frequent near-homograph after its type word (huyện Bình Gia, not Bình Giã)
GAZETTEER_WEIGHT = 4
# weighted counts an n-gram of order 2, 3, 4 needs to be kept: an administrative document's n-gram
# (weight 4) is kept from one occurrence, an encyclopedia's from several
LM_THRESHOLDS = {3: (1, 2), 4: (1, 2, 4)}
CACHE_DIR = ROOT / "build" / "restore"  # intermediate files (--cache); never committed
# the code that turns corpus text into LM units: the encoded corpus is cached under its hash
ENCODING_CODE = (
    "pipeline/vietnamese.py",
    "pipeline/restore/tokens.py",
    "build_tools/restore/corpus.py",
    "build_tools/restore/encode.py",
)
# share of the words of running English text written with a capital (sentence starts, names, titles)
FOREIGN_CAPITALISED = 0.15


def _log(message: str) -> None:
    print(f"[build_models {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha1()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    digest.update(f"{HELD_OUT_MODULUS}".encode())
    for module in ENCODING_CODE:
        digest.update((ROOT / module).read_bytes())
    return digest.hexdigest()[:16]


def encode_corpus(corpus_dir: Path, cache_dir: Path) -> tuple[list[str], list[EncodedCorpus]]:
    """Training documents as unit ids (cached under build/restore, keyed by the corpus and token rules)."""
    files = corpus_files(corpus_dir)
    if not files:
        raise SystemExit(f"no corpus files in {corpus_dir}")
    cache = cache_dir / f"encoded-{_fingerprint(files)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            units = [str(u) for u in data["units"]]
            corpora = [
                EncodedCorpus(str(name), CORPUS_WEIGHTS[str(name)], data[f"ids_{name}"])
                for name in data["names"]
            ]
        _log(f"encoded corpus from cache {cache.name}")
        return units, corpora
    encoder = UnitEncoder()
    corpora = []
    for path in files:
        name = path.name.split(".")[0]
        lines = (line for doc in iter_documents(path) if doc.split == "train" for line in doc.lines)
        ids = encoder.encode_lines(lines)
        corpora.append(EncodedCorpus(name, CORPUS_WEIGHTS[name], ids))
        _log(f"encoded {name}: {len(ids):,} units")
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        units=np.array(encoder.units),
        names=np.array([c.name for c in corpora]),
        **{f"ids_{c.name}": c.ids for c in corpora},
    )
    return encoder.units, corpora


def build_language_model(corpus_dir: Path, out_dir: Path, cache_dir: Path, order: int) -> dict[str, object]:
    units, corpora = encode_corpus(corpus_dir, cache_dir)
    # the gazetteer's units in the contexts documents name them in, as one more weighted corpus
    encoder = UnitEncoder(units)
    places = EncodedCorpus(GAZETTEER, GAZETTEER_WEIGHT, encoder.encode_lines(gazetteer_lines()))
    _log(f"encoded {GAZETTEER}: {len(places.ids):,} units")
    units, corpora = encoder.units, [*corpora, places]
    vocabulary = build_vocabulary(units, corpora)
    _log(f"vocabulary: {len(vocabulary.words):,} units, {int(vocabulary.is_syllable.sum()):,} syllables")
    coverage = inventory_coverage(
        [w for w, flag in zip(vocabulary.words, vocabulary.is_syllable, strict=True) if flag]
    )
    _log(f"syllable inventory: {coverage}")
    arrays = build_lm(corpora, vocabulary, order, LM_THRESHOLDS[order])
    path = out_dir / LM_FILE
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    sizes = {n: len(arrays[f"w{n}"]) for n in range(2, order + 1)}
    _log(f"LM written: {path} ({path.stat().st_size / 1e6:.1f} MB), n-grams kept {sizes}")
    return {
        "order": order,
        "thresholds": LM_THRESHOLDS[order],
        "gazetteer": {"lines": int((places.ids == EOS_ID).sum()), "weight": GAZETTEER_WEIGHT},
        "vocabulary": len(vocabulary.words),
        "ngrams": sizes,
        "inventory": coverage,
    }


def build_case_model(corpus_dir: Path, out_dir: Path) -> dict[str, object]:
    """The case model from the training documents, each weighted as in the LM."""
    documents = (
        (doc.lines, float(CORPUS_WEIGHTS[doc.corpus]))
        for path in corpus_files(corpus_dir)
        for doc in iter_documents(path)
        if doc.split == "train"
    )
    counts = case_counts(documents)
    path = out_dir / CASE_FILE
    np.savez_compressed(path, **case_arrays(counts))  # type: ignore[arg-type]
    share = CaseModel(counts).prior
    _log(f"case model written: {path} ({len(counts):,} syllables, {share:.3f} of the uses capitalised)")
    return {"syllables": len(counts), "capitalised_share": round(share, 4)}


def inventory_coverage(vocabulary_syllables: list[str]) -> dict[str, object]:
    """The phonotactic inventory and the LM's syllables against underthesea's Viet74K word list."""
    inventory = {tone_key(s) for s in generate_inventory()}
    attested = {tone_key(s) for s in vocabulary_syllables}
    report: dict[str, object] = {"inventory": len(inventory), "attested_in_corpus": len(attested & inventory)}
    try:
        import underthesea
    except ImportError:
        return report
    path = Path(underthesea.__file__).parent / "corpus" / "data" / "Viet74K.txt"
    words = {
        w
        for line in path.read_text(encoding="utf-8").splitlines()
        for w in unicodedata.normalize("NFC", line).lower().split()
        if w.isalpha()
    }
    keys = {tone_key(w) for w in words}
    # Viet74K's one-token entries include loanwords (ôtô, bêtông), abbreviations and typos
    report["viet74k_entries"] = len(keys)
    report["viet74k_in_inventory"] = round(len(keys & inventory) / len(keys), 4)
    report["viet74k_attested"] = round(len(keys & attested) / len(keys), 4)
    report["viet74k_inventory_part_attested"] = round(
        len(keys & inventory & attested) / max(1, len(keys & inventory)), 4
    )
    return report


def ocr_pairs(corpus_dir: Path, cache_dir: Path, jobs: int) -> dict[str, list[dict[str, object]]]:
    """Per channel, the training pages typeset, degraded and OCR'd (cached per page under build/)."""
    started = time.time()
    documents = training_documents(corpus_dir)
    result: dict[str, list[dict[str, object]]] = {}
    for regime, plan in REGIMES.items():
        specs = page_specs(documents, plan)
        result[regime] = [
            {"intended": line.intended, "observed": line.observed, "confidences": list(line.confidences)}
            for page in ocr_pages(specs, cache_dir / "ocr", jobs, lambda m, r=regime: _log(f"{r} OCR: {m}"))
            for line in page.lines
        ]
        _log(f"{regime} pairs: {len(specs)} pages, {len(result[regime])} lines")
    _log(f"training pages ready in {time.time() - started:.0f} s")
    return result


def build_channel(corpus_dir: Path, out_dir: Path, cache_dir: Path, jobs: int) -> dict[str, object]:
    channels = {}
    report: dict[str, object] = {}
    pairs_by_regime = ocr_pairs(corpus_dir, cache_dir, jobs)
    for regime, lines in pairs_by_regime.items():
        stats = PairStats()
        pairs = word_pairs(((str(p["intended"]), str(p["observed"]), p["confidences"]) for p in lines), stats)  # type: ignore[misc]
        channel = train_channel(pairs, stats)
        channels[regime] = channel_to_json(channel)
        exact = sum(p.observed == p.intended for p in pairs) / max(1, len(pairs))
        report[regime] = {
            "lines": len(lines),
            "word_pairs": len(pairs),
            "read_exactly": round(exact, 4),
            "splits": stats.splits,
            "merges": stats.merges,
            "dropped": stats.dropped,
            "inserted": stats.inserted,
            "rules": sum(len(v) for v in channel.rules.values()),
            "edge_glyphs": {c: round(v, 3) for c, v in sorted(channel.edge_glyphs.items())},
            "symbol_words": [stats.symbol_words, stats.symbol_numbers],
        }
        _log(f"{regime} channel: {report[regime]}")
    # the reading index of each channel over the LM's syllables
    lm = NgramModel.load(out_dir / LM_FILE)
    syllables = [w for w, flag in zip(lm.words, lm.is_syllable, strict=True) if flag]
    arrays: dict[str, np.ndarray] = {}
    indexes: dict[str, ReadingIndex] = {}
    for regime, data in channels.items():
        started = time.time()
        index = indexes[regime] = build_reading_index(SubstitutionChannel.from_json(data), syllables)
        arrays.update(reading_arrays(index, regime))
        _log(f"{regime} reading index: {len(index.observed):,} readings in {time.time() - started:.0f} s")
    np.savez_compressed(out_dir / READINGS_FILE, **arrays)  # type: ignore[arg-type]
    regimes = regime_rates(pairs_by_regime, lm, frozenset(indexes["eng"].observed.tolist()))
    report["regimes"] = regimes_to_json(regimes)
    _log(f"regime evidence rates: {report['regimes']}")
    path = out_dir / CHANNEL_FILE
    path.write_text(
        json.dumps({"channels": channels, "regimes": regimes_to_json(regimes), "report": report}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    return report


def regime_rates(
    pairs_by_regime: dict[str, list[dict[str, object]]], lm: NgramModel, misreadings: frozenset[str]
) -> RegimeModel:
    """How often each source shows each piece of evidence, from the channel's training lines: English
    OCR = the English-model readings; Vietnamese = the Vietnamese-model readings and the correct lines
    themselves; plain = the correct lines stripped of their marks. Text in another language = English
    running text, from wordfreq's English word frequencies."""
    from wordfreq import get_frequency_dict

    lexicon = Lexicon(bare_shares(lm.words, lm.is_syllable, lm.freq_logp), misreadings)
    intended = [str(p["intended"]) for lines in pairs_by_regime.values() for p in lines]
    samples = {
        Regime.ENGLISH: [str(p["observed"]) for p in pairs_by_regime["eng"]],
        Regime.VIETNAMESE: [str(p["observed"]) for p in pairs_by_regime["vie"]] + intended,
        Regime.PLAIN: [skeleton(line) for line in intended],
    }
    counts = {
        regime: evidence_counts(line_evidence(line, lexicon) for line in lines)
        for regime, lines in samples.items()
    }
    english = {w: f for w, f in get_frequency_dict("en").items() if w.isalpha()}
    counts[Regime.FOREIGN] = word_list_counts(
        english, lexicon, FOREIGN_CAPITALISED, float(counts[Regime.ENGLISH].sum())
    )
    return estimate_regimes(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--only", choices=("lm", "channel", "case"), help="rebuild one model only")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="where intermediate files are kept")
    parser.add_argument("--lm-order", type=int, choices=sorted(LM_THRESHOLDS), default=LM_ORDER)
    parser.add_argument("--jobs", type=int, default=2, help="Tesseract processes for the training pages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / "build_report.json"
    report: dict[str, object] = (
        json.loads(report_path.read_text()) if args.only and report_path.exists() else {}
    )
    if args.only in (None, "lm"):
        report["lm"] = build_language_model(args.corpus, args.out, args.cache, args.lm_order)
    if args.only in (None, "channel"):
        report["channel"] = build_channel(args.corpus, args.out, args.cache, args.jobs)
    if args.only in (None, "case"):
        report["case"] = build_case_model(args.corpus, args.out)
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    times = os.times()
    cpu = times.user + times.system + times.children_user + times.children_system
    _log(f"done: {cpu / 60:.1f} CPU-minutes (Tesseract included; pages from build/ cost none)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
