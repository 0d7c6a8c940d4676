"""The e-signed documents of ../shared/real against their gold records (tests/real/): born-digital pages read
from their text layer with the number and day of their signature widgets, every signature dictionary and stamp;
scans whose layer is only a signature stamp still OCR'd. Skips when ../shared/real is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ingest import read_signatures, read_text_layer
from pipeline.run import ProcessOptions, process_inputs
from pipeline.signatures import merge_signatures
from pipeline.textlayer import read_layer
from pipeline.types import PageSource

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "real"
GOLD = Path(__file__).resolve().parent / "real"
BORN_DIGITAL = ("tb11_2025_quangngai_esigned", "tb565_2024_quangngai_esigned")
STAMPED_SCANS = ("ct07_2018_quangngai", "ct08_2018_quangngai_stamp", "tb46_2025_quangngai")

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent: the real documents are not here")


def _gold(stem: str) -> dict:
    return json.loads((GOLD / f"{stem}.gold.json").read_text(encoding="utf-8"))


def _same_signatures(found: list[dict], gold: list[dict]) -> None:
    assert len(found) == len(gold)
    for ours, expected in zip(found, gold, strict=True):
        for key in ("signer", "organisation", "time", "source"):
            assert ours[key] == expected[key], (key, ours, expected)
        # the gold names e-mails of certificate subjects and stamps; the subject-alternative-name e-mails of
        # the certificates (read too) are not in it
        if expected["email"] is not None:
            assert ours["email"] == expected["email"]
        assert ours["verified"] is False


@pytest.fixture(scope="module")
def born_digital_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("real-out")
    summary = process_inputs([REAL / f"{stem}.pdf" for stem in BORN_DIGITAL], ProcessOptions(out_dir=out, jobs=2))
    assert summary.exit_code == 0
    return {stem: json.loads((out / f"{stem}.json").read_text(encoding="utf-8")) for stem in BORN_DIGITAL}


@pytest.mark.parametrize("stem", BORN_DIGITAL)
def test_real_born_digital_code_date_signer_and_signatures(born_digital_results: dict[str, dict], stem: str) -> None:
    data, gold = born_digital_results[stem], _gold(stem)
    assert [page["source"] for page in data["pages"]] == ["text-layer"] * gold["pages"]
    document = data["record"]["document"]
    for field in ("code", "number", "date"):
        assert document[field] == gold["document"][field], field
    assert document["signer"]["name"] == gold["document"]["signer"]["name"]
    _same_signatures(data["record"]["signatures"], gold["signatures"])
    assert data["record"]["needs_review"] == []
    assert "ttcbth@" not in "\f".join(page["text"] for page in data["pages"])  # the stamp is no page text


def test_real_born_digital_codes_broken_at_a_hyphen(born_digital_results: dict[str, dict]) -> None:
    gold = {ref["code"]: ref["date"] for ref in _gold("tb565_2024_quangngai_esigned")["references"]}
    found = {ref["code"]: ref["date"] for ref in born_digital_results["tb565_2024_quangngai_esigned"]["record"]["references"]}
    for code in ("6138/UBND-KGVX", "186/KH-UBND"):
        assert found.get(code) == gold[code]


@pytest.mark.parametrize("stem", STAMPED_SCANS)
def test_real_stamp_only_layers_are_ocred_and_stamps_are_signatures(stem: str) -> None:
    path = REAL / f"{stem}.pdf"
    layer = read_text_layer(path, 0)
    assert layer is not None
    reading = read_layer(layer)
    assert reading.source is PageSource.OCR and reading.evidence.stamp_chars > 0 and reading.words == ()
    signatures = merge_signatures(read_signatures(path), list(reading.stamps))
    _same_signatures([signature.__dict__ for signature in signatures], _gold(stem)["signatures"])
