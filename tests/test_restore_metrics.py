"""Tests of the restoration benchmark's measures on small cases computed by hand."""

from __future__ import annotations

import pytest

from build_tools.restore.metrics import bag_of_words_f1, cer, syllable_accuracy, words_changed


def test_restore_metrics_cer() -> None:
    assert cer(["của tỉnh"], ["của tỉnh"]) == 0.0
    assert cer(["của tỉnh"], ["cua tỉnh"]) == pytest.approx(1 / 8)  # one substitution in 8 characters
    assert cer(["Của  Tỉnh"], ["của tỉnh"]) == 0.0  # case and runs of spaces do not count
    assert cer(["ab", "cd"], ["a", "xcd"]) == pytest.approx(2 / 4)  # one deletion, one insertion


def test_restore_metrics_syllable_accuracy() -> None:
    # UBND and 2020 are not syllables; hoà/hòa is the same syllable
    assert syllable_accuracy(["UBND tỉnh hoà giải 2020"], ["UBND tinh hòa giải 2020"]) == (2, 3)
    # a lost word costs that word only, not the words after it
    assert syllable_accuracy(["xây dựng nông thôn mới"], ["xây nông thôn mới"]) == (4, 5)
    assert syllable_accuracy(["xây dựng"], [""]) == (0, 2)


def test_restore_metrics_bag_of_words_f1() -> None:
    assert bag_of_words_f1("nông thôn mới", "mới nông thôn") == 1.0  # reading order does not count
    # 2 of 3 words right, 2 of 4 produced right: P = 1/2, R = 2/3
    assert bag_of_words_f1("nông thôn mới", "nông thôn mai xa") == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert bag_of_words_f1("a, b.", "A b") == 1.0  # punctuation and case do not count
    assert bag_of_words_f1("a", "b") == 0.0


def test_restore_metrics_words_changed() -> None:
    assert words_changed(["của tỉnh Lạng Sơn"], ["của tỉnh Lạng Sơn"]) == (0, 4)
    assert words_changed(["cua tinh", "x"], ["của tinh", "x y"]) == (2, 3)
