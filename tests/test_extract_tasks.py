"""Tests of task extraction: list trees, headings, assignees, deadlines, appendices, page breaks."""

from __future__ import annotations

import pytest
from extract_helpers import load_cases
from hypothesis import given, settings
from hypothesis import strategies as st

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


# Bodies as directives name them: a group opened by a head ("Thủ trưởng các", "UBND các") over kinds of body or
# localities joined by commas that belong to the name, or one named body.
_GROUP_HEADS = ("Thủ trưởng các", "Giám đốc các", "Chủ tịch UBND các", "Chủ tịch Ủy ban nhân dân các", "UBND các",
                "các")
_GROUP_KINDS = (("sở", "ban", "ngành"), ("huyện", "thị xã", "thành phố"), ("xã", "phường", "thị trấn"),
                ("cơ quan", "đơn vị", "địa phương"), ("tổ chức", "đoàn thể"))
_GROUP_ENDS = ("", " liên quan", " của tỉnh", " trong tỉnh", " trên địa bàn tỉnh")
_NAMED = ("Sở Tài chính", "Sở Kế hoạch và Đầu tư", "Công an tỉnh", "Ban Quản lý dự án tỉnh",
          "Văn phòng UBND tỉnh", "Ban quản lý Khu kinh tế và các KCN")
_GROUPS = st.builds(lambda head, kinds, count, end: f"{head} {', '.join(kinds[:count])}{end}",
                    st.sampled_from(_GROUP_HEADS), st.sampled_from(_GROUP_KINDS), st.integers(1, 3),
                    st.sampled_from(_GROUP_ENDS))
_BODIES = st.lists(st.one_of(_GROUPS, st.sampled_from(_NAMED)), min_size=1, max_size=4, unique_by=str.lower)


@settings(max_examples=200, deadline=None)
@given(_BODIES, st.lists(st.sampled_from(("; ", ", ", " và ", ", và ")), min_size=3, max_size=3))
def test_extract_tasks_lead_in_bodies_split_between_names(bodies: list[str], separators: list[str]) -> None:
    """A lead-in's list of bodies is cut between whole names, never at the commas inside one ("các sở, ban,
    ngành"), and each name ends where the verb begins: every item without its own body gets the whole list."""
    listed = bodies[0] + "".join(sep + body for sep, body in zip(separators, bodies[1:], strict=False))
    text = (f"Kính gửi: các sở.\nUBND tỉnh yêu cầu {listed} thực hiện các nội dung sau:\n"
            "1. Rà soát hồ sơ.\n2. Báo cáo kết quả.")
    tasks = extract_record(text).tasks
    assert [task.assignees for task in tasks] == [bodies, bodies]


# Groups of bodies restricted by what they do ("các đơn vị được giao vốn"): a verb inside a name, which only the
# phrase that seals a list of subjects ("theo chức năng, nhiệm vụ") tells from the list's own verb.
_RESTRICTED = st.builds(lambda kind, clause: f"các {kind} {clause}",
                        st.sampled_from(("đơn vị", "cơ quan", "Ban quản lý", "chủ đầu tư", "Cơ quan")),
                        st.sampled_from(("được giao vốn", "chủ trì dự án thành phần", "quản lý 03 chương trình",
                                         "thực hiện Chương trình MTQG", "giao kế hoạch vốn")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_GROUPS, st.sampled_from(_NAMED), _RESTRICTED), min_size=1, max_size=4,
                unique_by=str.lower),
       st.lists(st.sampled_from((", ", " và ", ", và ")), min_size=3, max_size=3),
       st.sampled_from(("theo chức năng, nhiệm vụ được giao", "theo chức năng nhiệm vụ")))
def test_extract_tasks_sealed_list_keeps_restricted_groups(bodies: list[str], separators: list[str], seal: str) -> None:
    """A lead-in's list of bodies that "theo chức năng, nhiệm vụ" closes is read to that phrase: each group keeps
    the verb that restricts it, and every item without its own body gets the whole list."""
    listed = bodies[0] + "".join(sep + body for sep, body in zip(separators, bodies[1:], strict=False))
    text = (f"Kính gửi: các sở.\nUBND tỉnh yêu cầu {listed} {seal} khẩn trương thực hiện các nội dung sau:\n"
            "1. Rà soát hồ sơ.\n2. Báo cáo kết quả.")
    tasks = extract_record(text).tasks
    assert [task.assignees for task in tasks] == [bodies, bodies]


@pytest.mark.parametrize("closing", ["Trên đây là ý kiến chỉ đạo của UBND tỉnh.",
                                     "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, báo cáo về Sở Nội vụ."])
def test_extract_tasks_closing_formula_before_an_item_is_not_the_item_text(closing: str) -> None:
    # a closing formula between items (a misplaced paragraph, a page's order) closes the item before it; only what
    # merely opens like one ("Trong quá trình thực hiện, Sở … chủ động …") may be the item's further paragraph
    text = (f"Kính gửi: các sở.\nUBND tỉnh yêu cầu:\n1. Sở Nội vụ rà soát biên chế.\n2. Sở Tài chính bố trí kinh phí.\n"
            f"{closing}\n3. Sở Y tế kiểm tra an toàn thực phẩm.")
    tasks = extract_record(text).tasks
    assert [(t.id, t.text) for t in tasks] == [("1", "Sở Nội vụ rà soát biên chế."), ("2", "Sở Tài chính bố trí kinh phí."),
                                               ("3", "Sở Y tế kiểm tra an toàn thực phẩm.")]
