"""The console's words: both languages have the same keys, and every key a template or page
module names exists."""

from __future__ import annotations

import re
from pathlib import Path

from kefu.console.i18n import LOCALES, messages, translator

CONSOLE = Path(__file__).parents[2] / "src" / "kefu" / "console"
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")


def test_chinese_and_english_have_the_same_keys() -> None:
    zh, en = messages("zh"), messages("en")
    assert set(zh) - set(en) == set(), "missing in English"
    assert set(en) - set(zh) == set(), "missing in Chinese"
    assert {path.name for path in (LOCALES / "zh").glob("*.json")} == {
        path.name for path in (LOCALES / "en").glob("*.json")
    }


def test_every_key_used_exists() -> None:
    known = set(messages("zh"))
    used: set[str] = set()
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        used |= set(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no keys: the pattern is wrong"
    assert used - known == set()


def test_values_are_filled_in_and_english_falls_back_to_chinese() -> None:
    assert translator("zh")("home.greeting", name="张三") == "你好，张三"
    assert translator("en")("home.greeting", name="Lin") == "Hello, Lin"
    assert translator("en")("no.such.key") == "no.such.key"
