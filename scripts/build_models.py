"""Build the restoration models in models/ from ../shared/corpus (make models): LM, then OCR channel."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from restore_ocr import ocr_lines  # noqa: E402

from pipeline.restore.channel import ReadingIndex, SubstitutionChannel  # noqa: E402
from pipeline.restore.channel_build import PairStats, train_channel, word_pairs  # noqa: E402
from pipeline.restore.corpus import (  # noqa: E402
    CORPUS_WEIGHTS,
    HELD_OUT_MODULUS,
    corpus_files,
    default_corpus_dir,
    iter_documents,
)
from pipeline.restore.gazetteer import gazetteer_lines  # noqa: E402
from pipeline.restore.lm import EOS_ID, NgramModel  # noqa: E402
from pipeline.restore.lm_build import EncodedCorpus, UnitEncoder, build_lm, build_vocabulary  # noqa: E402
from pipeline.restore.models import CHANNEL_FILE, LM_FILE, MODELS_DIR, READINGS_FILE  # noqa: E402
from pipeline.restore.regimes import (  # noqa: E402
    Lexicon,
    Regime,
    RegimeModel,
    bare_shares,
    evidence_counts,
    line_evidence,
    word_list_counts,
)
from pipeline.restore.syllables import generate_inventory, skeleton, tone_key  # noqa: E402

LM_ORDER = 3
GAZETTEER = "gazetteer"
# how much a synthetic gazetteer line counts (the legal documents count 4): enough for a unit's name to
# outweigh a more frequent near-homograph after its type word (huyện Bình Gia, not Bình Giã)
GAZETTEER_WEIGHT = 4
LM_THRESHOLDS = (1, 2)  # weighted counts a bigram / trigram needs to be kept
CACHE_DIR = ROOT / "build" / "restore"  # intermediate files (--cache); never committed
# Channel training pairs: corpus lines rendered and OCR'd per regime (English model on archive-like
# scans, Vietnamese model on degraded ones), drawn from the training split with these shares.
PAIR_LINES = 1300
PAIR_SHARES = {"vbpl_vi_docs": 0.5, "phapdien_vanban": 0.3, "viwiki": 0.2}
# share of the words of running English text written with a capital (sentence starts, names, titles)
FOREIGN_CAPITALISED = 0.15
PAIR_REGIMES = {"eng": ("eng", False, 11), "vie": ("vie", True, 12)}  # language, degraded, seed


def _log(message: str) -> None:
    print(f"[build_models {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha1()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    digest.update(f"{HELD_OUT_MODULUS}".encode())
    for module in ("tokens.py", "corpus.py", "lm_build.py"):
        digest.update((ROOT / "pipeline" / "restore" / module).read_bytes())
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


def build_language_model(corpus_dir: Path, out_dir: Path, cache_dir: Path) -> dict[str, object]:
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
    arrays = build_lm(corpora, vocabulary, LM_ORDER, LM_THRESHOLDS)
    path = out_dir / LM_FILE
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    sizes = {n: len(arrays[f"w{n}"]) for n in range(2, LM_ORDER + 1)}
    _log(f"LM written: {path} ({path.stat().st_size / 1e6:.1f} MB), n-grams kept {sizes}")
    return {
        "order": LM_ORDER,
        "thresholds": LM_THRESHOLDS,
        "gazetteer": {"lines": int((places.ids == EOS_ID).sum()), "weight": GAZETTEER_WEIGHT},
        "vocabulary": len(vocabulary.words),
        "ngrams": sizes,
        "inventory": coverage,
    }


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


def sample_lines(corpus_dir: Path, count: int, seed: int) -> list[str]:
    """A seeded sample of training lines, `PAIR_SHARES` of them from each corpus file."""
    rng = random.Random(seed)
    sample: list[str] = []
    for path in corpus_files(corpus_dir):
        name = path.name.split(".")[0]
        quota = int(count * PAIR_SHARES.get(name, 0.0))
        reservoir: list[str] = []
        seen = 0
        for doc in iter_documents(path):
            if doc.split != "train":
                continue
            for line in doc.lines:
                words = len(line.split())
                if words < 4 or words > 80 or line.startswith(("|", "==")):
                    continue
                seen += 1
                if len(reservoir) < quota:
                    reservoir.append(line)
                else:
                    k = rng.randrange(seen)
                    if k < quota:
                        reservoir[k] = line
        sample.extend(reservoir)
    rng.shuffle(sample)
    return sample


def ocr_pairs(corpus_dir: Path, regime: str, cache_dir: Path) -> list[dict[str, object]]:
    """Rendered-and-OCR'd training lines of one regime (cached under build/restore)."""
    language, degraded, seed = PAIR_REGIMES[regime]
    lines = sample_lines(corpus_dir, PAIR_LINES, seed)
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    digest = hashlib.sha1(json.dumps([lines, language, degraded, seed, version]).encode()).hexdigest()[:16]
    cache = cache_dir / f"pairs-{regime}-{digest}.json"
    if cache.exists():
        _log(f"{regime} pairs from cache {cache.name}")
        return json.loads(cache.read_text(encoding="utf-8"))
    started = time.time()
    pages = ocr_lines(lines, language, degraded, seed)
    result = [
        {
            "intended": line.intended,
            "observed": line.observed,
            "confidences": list(line.confidences),
            "style": style.describe(),
        }
        for style, page in pages
        for line in page
    ]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    _log(f"{regime} pairs: {len(pages)} pages, {len(result)} lines OCR'd in {time.time() - started:.0f} s")
    return result


def build_channel(corpus_dir: Path, out_dir: Path, cache_dir: Path) -> dict[str, object]:
    channels = {}
    report: dict[str, object] = {}
    pairs_by_regime = {regime: ocr_pairs(corpus_dir, regime, cache_dir) for regime in PAIR_REGIMES}
    for regime, lines in pairs_by_regime.items():
        stats = PairStats()
        pairs = word_pairs(((str(p["intended"]), str(p["observed"]), p["confidences"]) for p in lines), stats)  # type: ignore[misc]
        channel = train_channel(pairs, stats)
        channels[regime] = channel.to_json()
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
        }
        _log(f"{regime} channel: {report[regime]}")
    # the reading index of each channel over the LM's syllables
    lm = NgramModel.load(out_dir / LM_FILE)
    syllables = [w for w, flag in zip(lm.words, lm.is_syllable, strict=True) if flag]
    arrays: dict[str, np.ndarray] = {}
    indexes: dict[str, ReadingIndex] = {}
    for regime, data in channels.items():
        started = time.time()
        index = indexes[regime] = ReadingIndex.build(SubstitutionChannel.from_json(data), syllables)
        arrays.update(index.to_arrays(regime))
        _log(f"{regime} reading index: {len(index.observed):,} readings in {time.time() - started:.0f} s")
    np.savez_compressed(out_dir / READINGS_FILE, **arrays)  # type: ignore[arg-type]
    regimes = estimate_regimes(pairs_by_regime, lm, frozenset(indexes["eng"].observed.tolist()))
    report["regimes"] = regimes.to_json()
    _log(f"regime evidence rates: {report['regimes']}")
    path = out_dir / CHANNEL_FILE
    path.write_text(
        json.dumps({"channels": channels, "regimes": regimes.to_json(), "report": report}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    return report


def estimate_regimes(
    pairs_by_regime: dict[str, list[dict[str, object]]], lm: NgramModel, misreadings: frozenset[str]
) -> RegimeModel:
    """How often each source shows each piece of evidence, from the channel's training lines: English
    OCR = the English-model readings; Vietnamese = the Vietnamese-model readings and the correct lines
    themselves; plain = the correct lines stripped of their marks. Text in another language = English
    running text, from wordfreq's English word frequencies."""
    from wordfreq import get_frequency_dict

    lexicon = Lexicon(bare_shares(lm.words, lm.is_syllable, lm.uni_logp), misreadings)
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
    return RegimeModel.estimate(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--only", choices=("lm", "channel"), help="rebuild one model only")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="where intermediate files are kept")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / "build_report.json"
    report: dict[str, object] = (
        json.loads(report_path.read_text()) if args.only and report_path.exists() else {}
    )
    if args.only in (None, "lm"):
        report["lm"] = build_language_model(args.corpus, args.out, args.cache)
    if args.only in (None, "channel"):
        report["channel"] = build_channel(args.corpus, args.out, args.cache)
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
