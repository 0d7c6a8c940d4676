"""Tests of the sample generator's scan degradations and the benchmark set."""

from __future__ import annotations

import random
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import generate


@lru_cache(maxsize=1)
def _clean_page() -> generate.RenderedPage:
    rng = random.Random(4)
    return generate.render_dispatch(generate.random_dispatch(rng, length="short"), rng=rng, dpi=150)[0]


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def _center_crop(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    top, left = (array.shape[0] - shape[0]) // 2, (array.shape[1] - shape[1]) // 2
    return array[top:top + shape[0], left:left + shape[1]]


@pytest.mark.parametrize("name", generate.DEGRADATIONS)
def test_generate_degrade_is_pure_and_keeps_gold_text(name: str) -> None:
    page = _clean_page()
    before = page.image.tobytes()
    damaged = generate.degrade(page, name, random.Random(1))
    assert page.image.tobytes() == before and page.degradation == "clean300"
    assert damaged.degradation == name and damaged.text == page.text
    assert damaged.image.mode == "RGB" and damaged.image is not page.image
    again = generate.degrade(page, name, random.Random(1))
    assert again.image.tobytes() == damaged.image.tobytes() and again.params == damaged.params
    gold = damaged.gold()
    assert set(gold) >= {"text", "degradation", "skew", "rotation", "dpi", "params"}


def test_generate_degrade_records_parameters() -> None:
    page = _clean_page()
    rng = random.Random(7)
    assert generate.degrade(page, "clean300", rng).dpi == 300
    assert 30 <= generate.degrade(page, "jpeg", rng).params["jpeg_quality"] <= 60
    noise = generate.degrade(page, "noise", rng).params
    assert noise["noise_sigma"] > 0 and noise["salt_pepper"] > 0
    assert generate.degrade(page, "blur", rng).params["blur_radius"] > 0
    assert generate.degrade(page, "dpi150", rng).dpi == 150
    phone = generate.degrade(page, "dpi75", rng)
    assert 70 <= phone.dpi <= 100 and abs(phone.skew) <= 1.5 and phone.jpeg is not None
    assert abs(phone.image.width - page.image.width * phone.dpi / page.dpi) < page.image.width * 0.05
    fade = generate.degrade(page, "fade", rng)
    assert fade.params["contrast"] < 1 and _gray(fade.image).min() > 20  # no solid black left
    marks = generate.degrade(page, "seal_over_text", rng).params["marks"]
    assert any("seal_center" in m for m in marks) and any("signature" in m for m in marks)


@pytest.mark.parametrize("seed", range(6))
def test_generate_degrade_skew_angle_is_ground_truth(seed: int) -> None:
    page = _clean_page()
    skewed = generate.degrade(page, "skew", random.Random(seed))
    assert 0.3 <= abs(skewed.skew) <= 10.0 and skewed.rotation == 0
    original = _gray(page.image)
    undone = _center_crop(_gray(skewed.image.rotate(-skewed.skew, resample=Image.Resampling.BICUBIC)), original.shape)
    wrong = _center_crop(_gray(skewed.image.rotate(skewed.skew, resample=Image.Resampling.BICUBIC)), original.shape)
    assert np.abs(undone - original).mean() < 0.5 * np.abs(wrong - original).mean()


@pytest.mark.parametrize("seed", range(4))
def test_generate_degrade_rotation_is_ground_truth(seed: int) -> None:
    page = _clean_page()
    turned = generate.degrade(page, "rotated", random.Random(seed))
    assert turned.rotation in (90, 180, 270) and turned.skew == 0
    undone = turned.image.rotate(-turned.rotation, expand=True)  # clockwise by `rotation`
    assert undone.tobytes() == page.image.tobytes()


def test_generate_degrade_hardest_class() -> None:
    for seed in range(3):
        hard = generate.degrade(_clean_page(), "hardest", random.Random(seed))
        assert hard.dpi == 150 and 3.0 <= abs(hard.skew) <= 4.0 and 33 <= hard.params["jpeg_quality"] <= 37
        r, g, b = np.asarray(hard.image).astype(int).transpose(2, 0, 1)
        assert ((r > 150) & (r - g > 60) & (r - b > 50)).sum() > 1000  # the red seal


def test_generate_degrade_rejects_unknown_class() -> None:
    with pytest.raises(ValueError, match="unknown degradation"):
        generate.degrade(_clean_page(), "sepia", random.Random(0))


def test_generate_bench_set_deterministic_and_same_pages_across_classes() -> None:
    classes = ["clean300", "hardest"]
    first = generate.generate_bench_set(classes, 2, seed=9, dpi=120)
    second = generate.generate_bench_set(classes, 2, seed=9, dpi=120)
    assert [item.name for item in first] == [item.name for item in second] and len(first) == 4
    assert {item.degradation for item in first} == set(classes)
    a, b = first[0].render(), second[0].render()
    assert a.image.tobytes() == b.image.tobytes() and a.text == b.text
    assert first[0].render().text == first[1].render().text  # same document, another class
    assert first[0].spec() != first[2].spec()
    assert generate.generate_bench_set(classes, 1, seed=10, dpi=120)[0].spec() != first[0].spec()
    with pytest.raises(ValueError):
        generate.generate_bench_set(["nope"], 1, seed=0)
