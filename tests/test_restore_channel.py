"""Tests of the OCR channel: word and letter alignment, rule learning, backward candidate search."""

from __future__ import annotations

import math

from pipeline.restore.channel import ReadingIndex, SearchSpace, SubstitutionChannel, confidence_bucket
from pipeline.restore.channel_build import WordPair, align_letters, align_words, train_channel, word_pairs

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
        assert math.isclose(found[intended], channel.logp(observed, intended), abs_tol=1e-6)
    assert channel.search("", space) == []
    assert channel.search("x" * 40, space) == []


def test_restore_channel_confidence_effect_and_json() -> None:
    channel = _channel()
    # words read with high confidence were read right more often than average: a positive boost
    assert (
        channel.keep_adjust[confidence_bucket(96.0)][0] > 0 > channel.keep_adjust[confidence_bucket(60.0)][0]
    )
    again = SubstitutionChannel.from_json(channel.to_json())
    assert again.logp("s6", "số") == round(channel.logp("s6", "số"), 4) or math.isclose(
        again.logp("s6", "số"), channel.logp("s6", "số"), abs_tol=1e-3
    )


def test_restore_channel_word_pairs_from_lines() -> None:
    lines = [("Quyết định số 18/KH-UBND", "Quyet dinh s6 18/KH-UBND", [90.0, 91.0, 40.0, 96.0])]
    pairs = word_pairs(lines)
    assert [(p.intended, p.observed) for p in pairs] == [("quyết", "quyet"), ("định", "dinh"), ("số", "s6")]
    assert pairs[2].confidence == 40.0


def test_restore_channel_reading_index_matches_search() -> None:
    channel = _channel()
    index = ReadingIndex.build(channel, WORDS)
    again = ReadingIndex.from_arrays(index.to_arrays("eng"), "eng")
    for observed in ("s6", "d6", "ngudi", "so"):
        found = dict(again.lookup(observed) or [])
        searched = dict(channel.search(observed, SearchSpace(WORDS)))
        best = max(searched, key=searched.__getitem__)
        assert best in found
        assert math.isclose(found[best], searched[best], abs_tol=1e-2)  # stored as float16
    assert again.lookup("qqq") is None
