"""The console's words: both languages have the same keys, and every key a template or page
module names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kefu.console import accounts_pages, connections_pages, crm_pages, system_pages
from kefu.console.i18n import LOCALES, messages, problem_words, translator

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


SOURCE = CONSOLE.parent


def _name_of(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def raised_problem_codes() -> dict[str, str]:
    """Every problem code Kefu's source raises with a literal code → where: a DomainError (or a
    subclass) built with its code as the second argument or `problem=`, an import row's
    RowProblem (its first), and get_row's `<what>_not_found`."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCE.rglob("*.py")}
    bases = {
        node.name: {_name_of(base) for base in node.bases}
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    refusals, grown = {"DomainError"}, True
    while grown:
        more = {name for name, parents in bases.items() if parents & refusals} - refusals
        refusals |= more
        grown = bool(more)
    codes: dict[str, str] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, where = _name_of(node.func), f"{path.relative_to(SOURCE)}:{node.lineno}"
            keyword = next((k.value for k in node.keywords if k.arg == "problem"), None)
            if name in refusals:
                code = _literal(node.args[1] if len(node.args) > 1 else keyword)
            elif name == "RowProblem":
                code = _literal(node.args[0] if node.args else None)
            elif name == "get_row" and len(node.args) > 3:
                what = _literal(node.args[3])
                code = what.lower().replace("-", "_").replace(" ", "_") + "_not_found" if what else None
            else:
                code = None
            if code:
                codes.setdefault(code, where)
    return codes


def test_every_problem_code_raised_has_words_in_both_languages() -> None:
    """A coded refusal is worded as `<scope>.problem.<code>` by the page that shows it; a code
    no scope words would reach the reader in English."""
    codes = raised_problem_codes()
    for page in (accounts_pages, connections_pages, crm_pages, system_pages):  # codes made by name
        codes.update({code: page.__name__ for code in page.FIELD_OF_PROBLEM if code not in codes})
    # the scan finds the services' codes (the pattern is right)
    assert {"name_taken", "already_with", "nothing_to_end", "conversation_not_found", "answer_empty"} <= set(
        codes
    )
    for lang in ("zh", "en"):
        worded = {key.rpartition(".problem.")[2] for key in messages(lang) if ".problem." in key}
        missing = {code: where for code, where in codes.items() if code not in worded}
        assert missing == {}, f"problem codes without {lang} words"


def test_a_code_without_words_in_its_scope_keeps_the_english_reason() -> None:
    t = translator("zh")
    values = {"name": "erp", "max": 64}
    assert problem_words(t, "tokens", "name_taken", values, "a token named 'erp' …") == (
        "已有名为“erp”的令牌；请先吊销它，或换一个名称"
    )
    assert (
        problem_words(t, "errors", "name_taken", values, "a token named 'erp' …") == "a token named 'erp' …"
    )
    assert problem_words(t, "errors", "", {}, "no code") == "no code"
