"""Record field scores: each extracted field against its truth, as counts of right, spurious and missed items.

Matching, per field:
- scalar header fields: exact after NFC/whitespace normalization (code, number, symbol, type, place, date);
  long strings (issuer, parent_issuer, subject, signer) with a fuzzy ratio ≥ FUZZY on folded text (lower case,
  no diacritics);
- lists (recipients, distribution): items matched one to one, fuzzy ratio ≥ FUZZY;
- references: by canonical code; `references.date` also requires the date;
- dates: multiset of (kind, value); places: multiset of (level, name, district, province);
- tasks: by id with the same assignees (each matched, parentheses ignored, fuzzy ≥ FUZZY) and deadline;
  `tasks.id` counts ids alone.
A scalar is a true positive when right, a false positive when given but absent from the truth, a false
negative when missed, and both when wrong; `accuracy` counts documents whose field is right (absent in both
counts as right).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from pipeline.eval.metrics import Accuracy, Counts

FUZZY = 90
HEADER_FIELDS = ("code", "number", "symbol", "type", "issuer", "parent_issuer", "place", "date", "subject",
                 "recipients", "signer", "distribution")
FUZZY_FIELDS = frozenset({"issuer", "parent_issuer", "subject", "signer"})
LIST_FIELDS = frozenset({"recipients", "distribution"})
HEADER_ROWS = tuple(f"document.{name}" for name in HEADER_FIELDS)
RECORD_ROWS = (*HEADER_ROWS, "references", "references.date", "dates", "places", "tasks", "tasks.id")

Scores = dict[str, Counts]


def new_scores(rows: Iterable[str] = RECORD_ROWS) -> Scores:
    return {row: Counts() for row in rows}


def fold(text: str) -> str:
    """Lower case without diacritics (đ → d), whitespace normalised: how long strings are compared."""
    decomposed = unicodedata.normalize("NFD", " ".join(str(text).split()).replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def same_exact(a: Any, b: Any) -> bool:
    return " ".join(unicodedata.normalize("NFC", str(a)).split()) == " ".join(unicodedata.normalize("NFC", str(b)).split())


def same_fuzzy(a: Any, b: Any) -> bool:
    folded_a, folded_b = fold(a), fold(b)
    return folded_a == folded_b or fuzz.ratio(folded_a, folded_b) >= FUZZY


def same_unit(a: str, b: str) -> bool:
    """Two unit names, fuzzy, ignoring parenthesised asides ("Phòng Kinh tế (thành phố)")."""
    return same_fuzzy(re.sub(r"\s*\([^)]*\)", "", a), re.sub(r"\s*\([^)]*\)", "", b))


def match_scalar(gold: Any, predicted: Any, same: Callable[[Any, Any], bool] = same_exact) -> Counts:
    if gold is None and predicted is None:
        return Counts()
    if gold is None:
        return Counts(fp=1)
    if predicted is None:
        return Counts(fn=1)
    return Counts(tp=1) if same(gold, predicted) else Counts(fp=1, fn=1)


def match_lists(gold: Sequence[Any], predicted: Sequence[Any], same: Callable[[Any, Any], bool]) -> Counts:
    """Gold items matched one to one, in order, with the first unused predicted item that is the same."""
    left = list(predicted)
    tp = 0
    for item in gold:
        for k, candidate in enumerate(left):
            if same(item, candidate):
                tp += 1
                del left[k]
                break
    return Counts(tp, len(predicted) - tp, len(gold) - tp)


def match_multisets(gold: Iterable[Any], predicted: Iterable[Any]) -> Counts:
    gold_items, predicted_items = Counter(gold), Counter(predicted)
    tp = sum((gold_items & predicted_items).values())
    return Counts(tp, sum(predicted_items.values()) - tp, sum(gold_items.values()) - tp)


def signer_text(value: Mapping[str, Any] | None) -> str | None:
    """A signer as one comparable string: authority | title | name; None when no part is given (a gold record's
    signer of a page cut off before the signature is all nulls: no signer, as an extractor says it)."""
    if not value or not any(value.get(k) for k in ("authority", "title", "name")):
        return None
    return " | ".join(str(value.get(k) or "") for k in ("authority", "title", "name"))


def header_field(name: str, gold: Mapping[str, Any], predicted: Mapping[str, Any]) -> Counts:
    """One `document.*` field of a predicted header against the gold header."""
    if name in LIST_FIELDS:
        return match_lists(gold.get(name) or [], predicted.get(name) or [], same_fuzzy)
    g, p = gold.get(name), predicted.get(name)
    if name == "signer":
        g, p = signer_text(g), signer_text(p)
    return match_scalar(g, p, same_fuzzy if name in FUZZY_FIELDS else same_exact)


def score_header(gold: Mapping[str, Any], predicted: Mapping[str, Any], scores: Scores,
                 fields: Iterable[str] = HEADER_FIELDS) -> None:
    """Add one header (`Record.document`) to the `document.*` rows of `scores`."""
    for name in fields:
        row = f"document.{name}"
        scores[row] = scores.get(row, Counts()) + header_field(name, gold, predicted)


def _reference_rows(gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any]]) -> tuple[Counts, Counts]:
    g_refs = {r["code"]: r for r in gold}
    p_refs = {r["code"]: r for r in predicted}
    common = g_refs.keys() & p_refs.keys()
    dated = sum(1 for code in common if g_refs[code].get("date") == p_refs[code].get("date"))
    return (Counts(len(common), len(p_refs) - len(common), len(g_refs) - len(common)),
            Counts(dated, len(p_refs) - dated, len(g_refs) - dated))


def _task_rows(gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any]]) -> tuple[Counts, Counts]:
    g_tasks = {t["id"]: t for t in gold}
    p_tasks = {t["id"]: t for t in predicted}
    ids = g_tasks.keys() & p_tasks.keys()
    good = 0
    for task_id in ids:
        g, p = g_tasks[task_id], p_tasks[task_id]
        assignees = match_lists(g.get("assignees") or [], p.get("assignees") or [], same_unit)
        if assignees.fp == 0 and assignees.fn == 0 and g.get("deadline") == p.get("deadline"):
            good += 1
    return (Counts(good, len(p_tasks) - good, len(g_tasks) - good),
            Counts(len(ids), len(p_tasks) - len(ids), len(g_tasks) - len(ids)))


def date_key(item: Mapping[str, Any]) -> tuple[Any, ...]:
    return item["kind"], item["value"]


def place_key(item: Mapping[str, Any]) -> tuple[Any, ...]:
    return item["level"], item["name"], item.get("district"), item.get("province")


def record_rows(gold: Mapping[str, Any], predicted: Mapping[str, Any]) -> Scores:
    """Every row of RECORD_ROWS for one record (as `Record.to_dict()` gives it) against its gold record."""
    scores = new_scores(())
    score_header(gold["document"], predicted["document"], scores)
    scores["references"], scores["references.date"] = _reference_rows(gold["references"], predicted["references"])
    scores["dates"] = match_multisets(map(date_key, gold["dates"]), map(date_key, predicted["dates"]))
    scores["places"] = match_multisets(map(place_key, gold["places"]), map(place_key, predicted["places"]))
    scores["tasks"], scores["tasks.id"] = _task_rows(gold["tasks"], predicted["tasks"])
    return scores


def add_scores(total: Scores, more: Mapping[str, Counts]) -> None:
    for row, counts in more.items():
        total[row] = total.get(row, Counts()) + counts


def score_record(gold: Mapping[str, Any], predicted: Mapping[str, Any], scores: Scores) -> None:
    """Add one record to `scores` (every row of RECORD_ROWS)."""
    add_scores(scores, record_rows(gold, predicted))


def field_accuracy(gold: Mapping[str, Any], predicted: Mapping[str, Any], fields: Iterable[str] = HEADER_FIELDS,
                   ) -> dict[str, Accuracy]:
    """Per header field: 1 of 1 when this document's field is exactly right (nothing spurious, nothing missed)."""
    out = {}
    for name in fields:
        counts = header_field(name, gold, predicted)
        out[f"document.{name}"] = Accuracy(int(counts.fp == 0 and counts.fn == 0), 1)
    return out
