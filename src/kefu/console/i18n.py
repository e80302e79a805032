"""The console's words in Chinese (default) and English.

Each page module keeps its own words in `locales/<lang>/<module>.json`, so pages added side by
side never edit one shared file; all files of a language are merged at start-up, and a key
defined twice is an error (tests/console/test_i18n.py also checks both languages have the
same keys)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "kefu_lang"
LOCALES = Path(__file__).parent / "locales"


@cache
def messages(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.json")):
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{path}: key {key!r} is already defined by another locale file")
            merged[key] = text
    return merged


def language_of(cookie: str | None, accept_language: str | None) -> str:
    """The cookie the language switch sets, else zh unless the browser asks for English first."""
    if cookie in LANGUAGES:
        return cookie
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[..., str]:
    """t("key", name=…) in `lang`; a key missing in English falls back to Chinese, a key
    missing everywhere shows as itself (and fails the locale test)."""
    own, fallback = messages(lang), messages(DEFAULT_LANGUAGE)

    def t(key: str, **values: object) -> str:
        text = own.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


# The parts of a `bad_header` refusal, each worded as `<scope>.problem.<part>_columns`.
HEADER_PARTS = ("unknown", "missing", "repeated", "unnamed")


def problem_words(
    t: Callable[..., str], scope: str, problem: str, values: Mapping[str, object], reason: str
) -> str:
    """A refusal in the reader's language — a DomainError's or an import row's `problem` code and
    its `values` (kefu.errors, kefu.ai.kb_csv) — as `<scope>.problem.<code>` of the page's words;
    a refusal without a code, or with one the scope has no words for (the error page's `errors`
    scope words only what can reach it), or whose words name a value it lacks, keeps its own
    (English) reason."""
    if not problem:
        return reason
    if problem == "bad_header":
        parts = [
            t(f"{scope}.problem.{part}_columns", names=values[part])
            for part in HEADER_PARTS
            if values.get(part)
        ]
        joined = t(f"{scope}.problem.separator").join(parts)
        return t(f"{scope}.problem.bad_header", **{**values, "problems": joined})
    key = f"{scope}.problem.{problem}"
    try:
        words = t(key, **values)
    except (KeyError, IndexError):  # words naming a value this problem lacks (an `input` not shown)
        return reason
    return reason if words == key else words
