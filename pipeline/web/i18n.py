"""The interface's one message catalogue (messages.json: every key in Vietnamese and English) and lookups."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """{key: {"vi": text, "en": text}}; texts may hold str.format fields such as {count}."""
    text = resources.files("pipeline.web").joinpath("messages.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = json.loads(text)
    return data


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(language: str, key: str, **fields: Any) -> str:
    """The message `key` in `language`, formatted with `fields`. An unknown key is a bug the catalogue test
    catches; at run time it shows as the key itself rather than failing the page."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(language) or entry[DEFAULT_LANGUAGE]
    return text.format(**fields) if fields else text


class Translator:
    """`t("key", count=3)` in templates, bound to the request's language."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)

    def __call__(self, key: str, **fields: Any) -> str:
        return translate(self.language, key, **fields)

    def has(self, key: str) -> bool:
        return key in catalogue()
