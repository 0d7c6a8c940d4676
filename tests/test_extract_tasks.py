"""Tests of task extraction: list trees, headings, assignees, deadlines, appendices, page breaks."""

from __future__ import annotations

import pytest
from extract_helpers import load_cases

from pipeline.extract import extract_record


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_tasks"))
def test_extract_tasks_cases(text: str, expected: list[list]) -> None:
    tasks = extract_record(text).tasks
    assert [[t.id, t.assignees, t.deadline] for t in tasks] == expected


def test_extract_tasks_coordinators_references_and_places() -> None:
    text = ("yêu cầu:\n1. Sở Tài chính chủ trì, phối hợp với Sở Kế hoạch và Đầu tư, UBND huyện Hữu Lũng bố trí vốn "
            "theo Quyết định số 539/QĐ-UBND.")
    (task,) = extract_record(text).tasks
    assert task.coordinators == ["Sở Kế hoạch và Đầu tư", "UBND huyện Hữu Lũng"]
    assert task.references == ["539/QĐ-UBND"]
    assert task.places == ["Hữu Lũng"]
    assert task.action == "chủ trì"


def test_extract_tasks_page_and_span() -> None:
    text = "yêu cầu:\n1. Sở A rà soát việc X.\n\f2. Sở B kiểm tra việc Y."
    first, second = extract_record(text).tasks
    assert (first.page, second.page) == (0, 1)
    assert second.span is not None and text[second.span.start : second.span.end].startswith("2. Sở B")


def test_extract_tasks_ids_are_unique() -> None:
    text = "yêu cầu:\n" + "\n".join(f"- Sở {chr(65 + k)} kiểm tra việc {k}." for k in range(5)) + "\nII. NỘI DUNG\n- Sở X kiểm tra."
    ids = [t.id for t in extract_record(text).tasks]
    assert len(ids) == len(set(ids)) == 6


def test_extract_tasks_table_row_fields() -> None:
    text = ("KẾ HOẠCH\nX\nUBND tỉnh ban hành.\nPhụ lục\nSTT\tNhiệm vụ\tCơ quan chủ trì\tCơ quan phối hợp\tThời gian hoàn thành\n"
            "1\tXây dựng cơ sở dữ liệu\tCông an tỉnh\tSở Tư pháp; UBND các huyện\tQuý II/2021")
    (task,) = extract_record(text).tasks
    assert (task.text, task.coordinators) == ("Xây dựng cơ sở dữ liệu", ["Sở Tư pháp", "UBND các huyện"])
    assert task.span is not None and text[task.span.start : task.span.end].startswith("Xây dựng")
