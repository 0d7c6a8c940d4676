"""The resources object: each resource loaded on first use and once, CONGVAN_MODELS read when it is made,
and replaceable as a whole in tests (stages see the replacement)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.errors import MissingDependencyError
from pipeline.extract import extract_record, text
from pipeline.extract.places import Gazetteer
from pipeline.resources import MODELS_ENV, Resources, current_resources, use_resources
from pipeline.restore import restore_text
from pipeline.types import Restoration, RestoredToken


def test_resources_load_lazily_and_once(monkeypatch):
    loads = []
    real = text.load_doc_types

    def counted() -> text.DocTypes:
        loads.append(1)
        return real()

    monkeypatch.setattr(text, "load_doc_types", counted)
    resources = Resources()
    assert loads == []
    first = resources.doc_types
    assert resources.doc_types is first and loads == [1]


def test_resources_models_folder_from_the_environment_when_made(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    resources = Resources()
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "elsewhere"))
    assert resources.models_dir == tmp_path
    with pytest.raises(MissingDependencyError) as error:
        resources.restorer  # noqa: B018 - loading is the point
    assert str(tmp_path / "restore_lm.npz") in str(error.value)


class _UpperCaseRestorer:
    def restore(self, text: str, confidences: Sequence[float | None] | None = None) -> Restoration:
        return Restoration(text.upper(), tuple(RestoredToken(t, t.upper(), 1.0) for t in text.split()))


def test_resources_replaced_in_tests_are_what_the_stages_use():
    before = current_resources()
    with use_resources(Resources(restorer=_UpperCaseRestorer())):
        assert restore_text("ctia UBND").text == "CTIA UBND"
    assert current_resources() is before


def test_resources_replaced_gazetteer_changes_extraction(documents_dir):
    document = (documents_dir / "cv_langson_vpdp_ntm.txt").read_text(encoding="utf-8")
    assert extract_record(document).places
    empty = Gazetteer({"provinces": [], "districts": [], "communes": [], "new_provinces": [], "new_communes": []})
    with use_resources(Resources(gazetteer=empty)):
        assert extract_record(document).places == []
