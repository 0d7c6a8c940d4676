"""Tests of the OCR channel: word and letter alignment, rule learning, backward candidate search."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from build_tools.restore.channel_build import (
    PairStats,
    WordPair,
    align_letters,
    align_words,
    build_reading_index,
    channel_logp,
    channel_to_json,
    forward,
    reading_arrays,
    reading_lookup,
    train_channel,
    word_pairs,
)
from pipeline.restore.channel import (
    EditIndex,
    ReadingIndex,
    SearchSpace,
    SubstitutionChannel,
    confidence_bucket,
)

WORDS = ["số", "sổ", "sô", "so", "độ", "đồ", "do", "người", "ngươi", "của", "cua", "lớn", "lợn"]


def test_restore_channel_letter_alignment() -> None:
    assert align_letters("người", "ngudi") == [("n", "n"), ("g", "g"), ("ư", "u"), ("ờ", "d"), ("i", "i")]
    assert align_letters("mới", "ma&i") == [("m", "m"), ("ớ", "a&"), ("i", "i")]
    assert align_letters("thực", "thc") == [("t", "t"), ("h", "h"), ("ự", ""), ("c", "c")]
    assert align_letters("a", "xyzxyz") is None


def test_restore_channel_word_alignment() -> None:
    links = align_words(["Số", "18", "ngày", "của", "UBND"], ["S6", "18", "ngay", "ctia", "UBND"])
    assert links == [((0,), (0,)), ((1,), (1,)), ((2,), (2,)), ((3,), (3,)), ((4,), (4,))]
    links = align_words(["nông", "thôn", "mới"], ["néngthén", "mdi"])
    assert ((0, 1), (0,)) in links


def _channel() -> SubstitutionChannel:
    pairs = [WordPair("số", "s6", 80.0)] * 20 + [WordPair("độ", "d6", 80.0)] * 20
    pairs += [WordPair("người", "ngudi", 60.0)] * 10 + [WordPair("so", "so", 95.0)] * 30
    pairs += [WordPair("của", "ctia", 50.0)] * 10 + [WordPair("lớn", "16n", 70.0)] * 10
    pairs += [WordPair(w, w, 96.0) for w in ("do", "cua", "ngươi", "lợn")] * 10
    return train_channel(pairs)


def test_restore_channel_learns_and_searches() -> None:
    channel = _channel()
    assert channel.rules["ố"]["6"] > math.log(0.5)
    space = SearchSpace(WORDS)
    for observed, intended in [
        ("s6", "số"),
        ("d6", "độ"),
        ("ngudi", "người"),
        ("ctia", "của"),
        ("16n", "lớn"),
    ]:
        found = dict(channel.search(observed, space))
        assert intended in found, observed
        assert found[intended] == max(found.values()), observed
        assert math.isclose(found[intended], channel_logp(channel, observed, intended), abs_tol=1e-6)
    assert channel.search("", space) == []
    assert channel.search("x" * 40, space) == []


def test_restore_channel_confidence_effect_and_json() -> None:
    channel = _channel()
    # words read with high confidence were read right more often than average: a positive boost
    assert (
        channel.keep_adjust[confidence_bucket(96.0)][0] > 0 > channel.keep_adjust[confidence_bucket(60.0)][0]
    )
    again = SubstitutionChannel.from_json(channel_to_json(channel))
    assert channel_logp(again, "s6", "số") == round(channel_logp(channel, "s6", "số"), 4) or math.isclose(
        channel_logp(again, "s6", "số"), channel_logp(channel, "s6", "số"), abs_tol=1e-3
    )


def test_restore_channel_word_pairs_from_lines() -> None:
    lines = [("Quyết định số 18/KH-UBND", "Quyet dinh s6 18/KH-UBND", [90.0, 91.0, 40.0, 96.0])]
    pairs = word_pairs(lines)
    assert [(p.intended, p.observed) for p in pairs] == [("quyết", "quyet"), ("định", "dinh"), ("số", "s6")]
    assert pairs[2].confidence == 40.0


def test_restore_channel_reading_index_matches_search() -> None:
    channel = _channel()
    index = build_reading_index(channel, WORDS)
    again = ReadingIndex.from_arrays(reading_arrays(index, "eng"), "eng")
    for observed in ("s6", "d6", "ngudi", "so"):
        found = dict(reading_lookup(again, observed) or [])
        searched = dict(channel.search(observed, SearchSpace(WORDS)))
        best = max(searched, key=searched.__getitem__)
        assert best in found
        assert math.isclose(found[best], searched[best], abs_tol=1e-2)  # stored as float16
    assert reading_lookup(again, "qqq") is None


def test_restore_channel_reading_index_keeps_rare_symbol_readings() -> None:
    # a photo's 10 for lộ: two unlikely pieces (l → 1, ộ → 0), below the forward margin of the index but
    # within the backward search's; a token of digits is never searched for, so the index must hold it
    rules = {
        "l": {"l": math.log(0.9), "1": math.log(0.1)},
        "ộ": {"ộ": math.log(0.9), "o": math.log(0.0999), "0": -9.0},
        "o": {"o": math.log(0.999), "0": -9.0},
    }
    channel = SubstitutionChannel(rules)
    assert "10" not in forward(channel, "lộ")
    index = build_reading_index(channel, ["lộ", "lo"])
    found = dict(reading_lookup(index, "10") or [])
    assert found["lộ"] == pytest.approx(channel_logp(channel, "10", "lộ"), abs=1e-2)
    assert found["lo"] == pytest.approx(channel_logp(channel, "10", "lo"), abs=1e-2)


def test_restore_channel_edge_characters_learnt_as_glyphs_or_punctuation() -> None:
    # the English model reads ư as u’ and ứ as t?, while commas and full stops stay punctuation
    lines = [("tư vấn, cơ sở.", "tu’ van, co’ so.", [])] * 6 + [("cứ thế", "ct? thé", [])] * 6
    stats = PairStats()
    pairs = word_pairs(lines, stats)
    assert ("tư", "tu’") in {(p.intended, p.observed) for p in pairs}
    assert ("cứ", "ct?") in {(p.intended, p.observed) for p in pairs}
    channel = train_channel(pairs, stats)
    assert channel.edge_glyphs["’"] > math.log(0.9)
    assert channel.edge_glyphs["?"] > math.log(0.9)
    assert "," not in channel.edge_glyphs and "." not in channel.edge_glyphs
    again = SubstitutionChannel.from_json(channel_to_json(channel))
    assert again.edge_glyphs == pytest.approx(channel.edge_glyphs, abs=1e-3)


def test_restore_channel_symbol_tokens_counted() -> None:
    lines = [("khổng lồ ở đây", "khong 16 @ day", [])] * 4 + [("ngày 16 tháng 5", "ngay 16 thang 5", [])] * 4
    stats = PairStats()
    channel = train_channel(word_pairs(lines, stats), stats)
    assert (stats.symbol_words, stats.symbol_numbers) == (8, 8)
    assert channel.symbol_word_logp == pytest.approx(math.log(8.5 / 17))


def test_restore_channel_edit_fallback_reaches_what_rules_do_not() -> None:
    channel = _channel()
    # no rule reads ự as y followed by an inserted f: the substitution rules give nothing
    assert channel_logp(channel, "thyfc", "thực") == -math.inf
    fallback = channel.edit_logp("thyfc", "thực")
    assert math.isfinite(fallback)
    assert fallback > channel.edit_logp("thyfc", "người")
    # where a rule exists, the edit costs what the one-letter rules say
    assert channel.edit_logp("s6", "số") == pytest.approx(channel.rules["s"]["s"] + channel.rules["ố"]["6"])


@given(st.text(alphabet="abcdeghiklmnoqtuy16", min_size=1, max_size=7))
@settings(max_examples=80, deadline=None)
def test_restore_channel_edit_index_finds_every_near_skeleton(observed: str) -> None:
    skeletons = ["thuc", "nguoi", "cua", "so", "do", "hoc", "tao", "duc", "muc", "ngay", "von", "giao", "bien"]
    index = EditIndex(skeletons)
    expected = sorted(k for k in skeletons if Levenshtein.distance(k, observed) <= 2)
    assert sorted(index.near(observed, 2)) == expected
    assert set(index.near(observed, 1)) == {k for k in skeletons if Levenshtein.distance(k, observed) <= 1}
