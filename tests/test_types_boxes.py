"""Box geometry shared by OCR, ingest and the page worker: which region a word belongs to."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.types import centre_inside

_sides = st.integers(min_value=0, max_value=5000)
_boxes = st.tuples(_sides, _sides, _sides, _sides)


@given(_boxes)
def test_types_box_contains_its_own_centre(box: tuple[int, int, int, int]) -> None:
    assert centre_inside(box, box)


def test_types_word_assigned_by_centre_not_by_overlap() -> None:
    zone = (100, 100, 200, 50)
    assert centre_inside((250, 110, 100, 20), zone)  # sticks out to the right, centre at x=300: inside (edge)
    assert not centre_inside((260, 110, 100, 20), zone)  # centre at x=310: outside
    assert not centre_inside((40, 90, 100, 10), zone)  # overlaps the zone, centre above it
