"""Settings refused in the reader's language: every code the settings schemas — an account's
and the `ai:` section's — can refuse with (pydantic's error types their fields can give, and
each Kefu rule's code) has Chinese and English words (`settings.problem.<code>`), and each one,
provoked through the check the console runs, is worded with the values it names."""

from __future__ import annotations

import ast
import inspect
import string
import sys
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from kefu.accounts.settings import SettingsInvalid, validate_ai_settings, validate_settings
from kefu.accounts.settings_types import AccountSettingsData
from kefu.ai.settings import AISettings
from kefu.console.i18n import messages, problem_words, translator
from kefu.schema_types import PYDANTIC_ERROR_TYPES, Problem

# What pydantic's validator of each core-schema type refuses with (Python input, lax mode, as
# kefu.accounts.settings.validate_settings runs it), and what each constraint adds. A type the
# settings schema starts to use that is not here fails the walk below: say what it refuses with.
TYPE_ERRORS = {
    "int": {"int_type", "int_parsing", "int_parsing_size", "int_from_float", "finite_number"},
    "float": {"float_type", "float_parsing"},  # finite_number only with allow_inf_nan=False (below)
    "dict": {"dict_type"},
    "bool": {"bool_type", "bool_parsing"},
    "str": {"string_type", "string_unicode"},
    "date": {"date_type", "date_from_datetime_parsing", "date_from_datetime_inexact"},
    "list": {"list_type"},
    "literal": {"literal_error"},
    "model": {"model_type"},
}
BOUND_ERRORS = {"ge": "greater_than_equal", "le": "less_than_equal", "gt": "greater_than", "lt": "less_than"}
CONSTRAINT_ERRORS = {
    **{(number, bound): error for number in ("int", "float") for bound, error in BOUND_ERRORS.items()},
    ("str", "min_length"): "string_too_short",
    ("str", "max_length"): "string_too_long",
    ("str", "pattern"): "string_pattern_mismatch",
    ("list", "min_length"): "too_short",
    ("list", "max_length"): "too_long",
}
# Schema types that refuse nothing of their own (a function's refusals are the Kefu rules').
REFUSE_NOTHING = {
    "any",
    "default",
    "definitions",
    "definition-ref",
    "model-field",
    "model-fields",
    "nullable",
    "function-after",
    "function-before",
    "function-plain",
    "function-wrap",
}


def _walk(node: Any, codes: set[str], functions: list[Any]) -> None:
    if isinstance(node, list | tuple):
        for item in node:
            _walk(item, codes, functions)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if isinstance(kind, str) and kind not in ("no-info", "with-info"):  # a schema, not a function's info
        assert kind in TYPE_ERRORS or kind in REFUSE_NOTHING, f"core schema type {kind!r} refuses with what?"
        codes |= TYPE_ERRORS.get(kind, set())
        codes |= {
            code for (on, key), code in CONSTRAINT_ERRORS.items() if on == kind and node.get(key) is not None
        }
        if kind == "model-fields" and any(f["schema"]["type"] != "default" for f in node["fields"].values()):
            codes.add("missing")
        if kind == "float" and node.get("allow_inf_nan") is False:
            codes.add("finite_number")
        if kind == "model" and node.get("config", {}).get("extra_fields_behavior") == "forbid":
            codes.add("extra_forbidden")
        if kind.startswith("function-"):
            functions.append(node["function"]["function"])
    for key, value in node.items():
        if key not in ("serialization", "metadata"):
            _walk(value, codes, functions)


# Each settings schema the console checks, and modules its validators must come from (so the
# walk is seen to reach them).
SCHEMAS: dict[type[BaseModel], set[str]] = {
    AccountSettingsData: {"kefu.accounts.settings_types", "kefu.hours.periods", "kefu.schema_types"},
    AISettings: {"kefu.ai.settings", "kefu.schema_types"},
}


def schema_codes(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """(pydantic's error types the schema can give, the codes of Kefu's rules it may give): the
    latter are every `PydanticCustomError("code", …)` in the modules of its validators — a
    module's every rule, so a shared module (kefu.schema_types) names some another schema uses."""
    builtin: set[str] = set()
    functions: list[Any] = []
    _walk(model.__pydantic_core_schema__, builtin, functions)
    modules = {sys.modules[f.__module__] for f in functions}
    assert {m.__name__ for m in modules} >= SCHEMAS[model]
    rules = set()
    for module in modules:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PydanticCustomError":
                code = node.args[0]
                assert isinstance(code, ast.Constant), f"{module.__name__}:{node.lineno}: a literal code"
                rules.add(code.value)
    assert builtin <= PYDANTIC_ERROR_TYPES and not rules & PYDANTIC_ERROR_TYPES
    return builtin, rules


def all_codes() -> set[str]:
    return {code for model in SCHEMAS for part in schema_codes(model) for code in part}


def test_every_code_the_settings_schemas_can_give_has_words_in_both_languages() -> None:
    builtin, rules = schema_codes(AccountSettingsData)
    assert {"greater_than_equal", "literal_error", "missing"} <= builtin  # the walk finds the fields
    assert {"period_backwards", "unknown_timezone", "mode_needs_ai", "text_too_many_bytes"} <= rules
    builtin, rules = schema_codes(AISettings)
    assert {"float_parsing", "greater_than", "dict_type", "string_too_short"} <= builtin
    assert {"url_not_http", "secret_not_text", "synonym_empty", "openai_needs_settings"} <= rules
    for lang in ("zh", "en"):
        missing = sorted(c for c in all_codes() if f"settings.problem.{c}" not in messages(lang))
        assert missing == [], f"settings problems without {lang} words"


SURVEY = {"mode": "fixed", "text": "请评价"}
# One bad value per row → (path, code), through an account's check. Rows cover every pydantic
# error type schema_codes(AccountSettingsData) finds; with AI_PROVOKED, every rule's code.
PROVOKED: list[tuple[dict[str, Any], str, str]] = [
    ({"queue": {"default_max_sessions": [1]}}, "queue.default_max_sessions", "int_type"),
    ({"queue": {"max_length": "十"}}, "queue.max_length", "int_parsing"),
    ({"queue": {"max_length": "9" * 5000}}, "queue.max_length", "int_parsing_size"),
    ({"queue": {"timeout_minutes": 1.5}}, "queue.timeout_minutes", "int_from_float"),
    ({"queue": {"timeout_minutes": float("inf")}}, "queue.timeout_minutes", "finite_number"),
    ({"queue": {"default_max_sessions": "0"}}, "queue.default_max_sessions", "greater_than_equal"),
    (
        {"messages": {"survey": {**SURVEY, "options": [{"label": "好", "score": 101}]}}},
        "messages.survey.options[0].score",
        "less_than_equal",
    ),
    ({"hours": {"statutory_holidays": [True]}}, "hours.statutory_holidays", "bool_type"),
    ({"hours": {"statutory_holidays": "也许"}}, "hours.statutory_holidays", "bool_parsing"),
    ({"timezone": 8}, "timezone", "string_type"),
    ({"timezone": b"\xff"}, "timezone", "string_unicode"),
    (
        {"reception": {"keyword_transfer": {"keywords": [""]}}},
        "reception.keyword_transfer.keywords[0]",
        "string_too_short",
    ),
    ({"hours": {"closed_dates": [True]}}, "hours.closed_dates[0]", "date_type"),
    ({"hours": {"closed_dates": ["2026-13-01"]}}, "hours.closed_dates[0]", "date_from_datetime_parsing"),
    (
        {"hours": {"closed_dates": [datetime(2026, 10, 1, 9)]}},
        "hours.closed_dates[0]",
        "date_from_datetime_inexact",
    ),
    ({"hours": {"extra_working_dates": "2026-10-01"}}, "hours.extra_working_dates", "list_type"),
    (
        {"messages": {"survey": {**SURVEY, "options": [{"label": str(n), "score": n} for n in range(11)]}}},
        "messages.survey.options",
        "too_long",
    ),
    ({"routing": {"rules": []}}, "routing.rules", "too_short"),
    ({"reception": {"mode": "ai_frist"}}, "reception.mode", "literal_error"),
    ({"session": "never"}, "session", "model_type"),
    ({"routing": {"rules": [{"when_unavailable": "wait"}]}}, "routing.rules[0].rule", "missing"),
    ({"queue": {"max_lenght": 3}}, "queue.max_lenght", "extra_forbidden"),
    (
        {"reception": {"button_transfer": {"text": "转" * 43}}},
        "reception.button_transfer.text",
        "text_too_many_bytes",
    ),
    ({"messages": {"welcome": {"mode": "fixed"}}}, "messages.welcome", "fixed_needs_text"),
    (
        {"messages": {"welcome": {"mode": "fixed", "text": "欢迎\x0b光临"}}},
        "messages.welcome.text",
        "text_control",
    ),
    ({"messages": {"survey": SURVEY}}, "messages.survey", "survey_needs_options"),
    ({"queue": {"no_reply_notice": {"enabled": True}}}, "queue.no_reply_notice", "notice_needs_text"),
    ({"reception": {"keyword_transfer": {"keywords": []}}}, "reception.keyword_transfer", "keywords_empty"),
    (
        {"queue": {"pool_notice": {"mode": "fixed", "text": "第 {位"}}},
        "queue.pool_notice",
        "placeholder_braces",
    ),
    (
        {"queue": {"pool_notice": {"mode": "fixed", "text": "第 {n} 位"}}},
        "queue.pool_notice",
        "placeholder_not_allowed",
    ),
    (
        {"queue": {"no_reply_notice": {"enabled": True, "text": "稍等"}, "taken_notice": {"mode": "ai"}}},
        "queue",
        "taken_code_shared",
    ),
    ({"routing": {"rules": [{"rule": "idle"}, {"rule": "idle"}]}}, "routing", "rule_repeated"),
    (
        {"hours": {"closed_dates": ["2026-10-08"], "extra_working_dates": ["2026-10-08"]}},
        "(top level)",
        "dates_closed_and_working",
    ),
    ({"reception": {"mode": "ai_first"}}, "reception.mode", "mode_needs_ai"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown_timezone"),
    (
        {"hours": {"off_hours_message": {"mode": "fixed", "text": " "}}},
        "hours.off_hours_message",
        "off_hours_needs_text",
    ),
    ({"hours": {"weekly": {"mon": [900]}}}, "hours.weekly.mon[0]", "period_not_text"),
    ({"hours": {"weekly": {"mon": ["9点-18点"]}}}, "hours.weekly.mon[0]", "period_format"),
    ({"hours": {"weekly": {"mon": ["09:60-18:00"]}}}, "hours.weekly.mon[0]", "period_minutes"),
    ({"hours": {"weekly": {"mon": ["24:00-24:00"]}}}, "hours.weekly.mon[0]", "period_starts_at_24"),
    ({"hours": {"weekly": {"mon": ["09:00-25:00"]}}}, "hours.weekly.mon[0]", "period_hours"),
    ({"hours": {"weekly": {"mon": ["00:00-00:00"]}}}, "hours.weekly.mon[0]", "period_empty"),
    ({"hours": {"weekly": {"mon": ["22:00-00:00"]}}}, "hours.weekly.mon[0]", "period_to_midnight"),
    ({"hours": {"weekly": {"mon": ["09:00-09:00"]}}}, "hours.weekly.mon[0]", "period_end_is_start"),
    ({"hours": {"weekly": {"mon": ["22:00-06:00"]}}}, "hours.weekly.mon[0]", "period_backwards"),
    ({"hours": {"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}}, "hours.weekly.mon", "periods_overlap"),
]


OPENAI = {"base_url": "http://127.0.0.1:8001/v1", "model": "qwen-plus"}
# The same through the `ai:` section's check (the AI settings page's).
AI_PROVOKED: list[tuple[dict[str, Any], str, str]] = [
    ({"provider": "gpt"}, "provider", "literal_error"),
    ({"not_sure_text": 5}, "not_sure_text", "string_type"),
    ({"not_sure_text": b"\xff"}, "not_sure_text", "string_unicode"),
    ({"not_sure_text": "不" * 683}, "not_sure_text", "text_too_many_bytes"),
    ({"not_sure_text": " "}, "not_sure_text", "not_sure_text_empty"),
    ({"small_talk": {"thanks": "不客气\x1b[0m"}}, "small_talk.thanks", "text_control"),
    ({"phrases": {"greeting": ["您好"]}}, "phrases", "phrases_invalid"),
    ({"openai": {**OPENAI, "model": ""}}, "openai.model", "string_too_short"),
    ({"threshold": [0.5]}, "threshold", "float_type"),
    ({"threshold": "一半"}, "threshold", "float_parsing"),
    ({"threshold": 2}, "threshold", "less_than_equal"),
    ({"threshold": -0.1}, "threshold", "greater_than_equal"),
    ({"openai": {**OPENAI, "timeout_s": 0}}, "openai.timeout_s", "greater_than"),
    ({"openai": "qwen"}, "openai", "model_type"),
    ({"openai": {"model": "qwen-plus"}}, "openai.base_url", "missing"),
    ({"openai": {**OPENAI, "apikey": "sk"}}, "openai.apikey", "extra_forbidden"),
    ({"synonyms": "云笺: 云签"}, "synonyms", "dict_type"),
    ({"synonyms": {"云笺": "云签"}}, "synonyms.云笺", "list_type"),
    ({"openai": {**OPENAI, "base_url": ""}}, "openai.base_url", "url_empty"),
    ({"synonyms": {"云笺": ["云签", " "]}}, "synonyms", "synonym_empty"),
    ({"openai": {**OPENAI, "base_url": "127.0.0.1:8001/v1"}}, "openai.base_url", "url_not_http"),
    ({"openai": {**OPENAI, "api_key": 123}}, "openai.api_key", "secret_not_text"),
    ({"provider": "openai"}, "(top level)", "openai_needs_settings"),
]


def _refused(data: dict[str, Any]) -> list[Problem]:
    # The AI mode's rule needs an AI that is not set up; every other row has a valid mode.
    ai = AISettings(provider="none") if data.get("reception", {}).get("mode") == "ai_first" else AISettings()
    with pytest.raises(SettingsInvalid) as refused:
        validate_settings(data, ai=ai)
    return refused.value.problems


def _ai_refused(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(SettingsInvalid) as refused:
        validate_ai_settings(data)
    return refused.value.problems


def _provoke(rows: list[tuple[dict[str, Any], str, str]], refused: Any) -> set[str]:
    """The codes the rows give, each checked to be worded in both languages."""
    zh, en = translator("zh"), translator("en")
    given = set()
    for data, path, code in rows:
        found = {(p.path, p.problem): p for p in refused(data)}
        assert (path, code) in found, (data, list(found))
        problem = found[path, code]
        given.add(code)
        for lang, t in (("zh", zh), ("en", en)):
            raw = messages(lang)[f"settings.problem.{code}"]
            named = {field for _, field, _, _ in string.Formatter().parse(raw) if field}
            assert named <= set(problem.values), (code, lang, problem.values)
            words = problem_words(t, "settings", problem.problem, problem.values, problem.reason)
            assert words == (raw.format(**problem.values) if problem.values else raw), (code, lang)
    return given


def test_each_code_is_provoked_and_worded_with_its_values() -> None:
    """Each schema's rows give every pydantic error type it can give and no other code (pydantic
    or a rule giving another code fails here); together they give every rule's code; each is
    worded in both languages, its values filled in."""
    account = _provoke(PROVOKED, _refused)
    ai = _provoke(AI_PROVOKED, _ai_refused)
    for model, given in ((AccountSettingsData, account), (AISettings, ai)):
        builtin, rules = schema_codes(model)
        assert given & PYDANTIC_ERROR_TYPES == builtin, model
        assert given - PYDANTIC_ERROR_TYPES <= rules, model
    assert account | ai == all_codes()


def test_words_name_the_values_and_english_reasons_stay_as_they_were() -> None:
    (problem,) = _refused({"hours": {"weekly": {"tue": ["18:00-09:00"]}}})
    assert problem.reason == (
        "18:00-09:00: the end is before the start; split it at midnight: "
        "18:00-24:00 on this day and 00:00-09:00 on the next"
    )
    assert problem_words(translator("zh"), "settings", problem.problem, problem.values, problem.reason) == (
        "18:00-09:00：结束时间早于开始时间；跨午夜请拆成当天 18:00-24:00 和次日 00:00-09:00"
    )
    (problem,) = _refused({"queue": {"max_length": "十"}})
    assert (
        problem.reason == "Input should be a valid integer, unable to parse string as an integer (got '十')"
    )
    assert problem_words(translator("zh"), "settings", problem.problem, problem.values, problem.reason) == (
        "“十”不是整数"
    )
    # the AI section's rules: the English of the config file, word for word
    english = {p.problem: p.reason for data, _, _ in AI_PROVOKED[-4:] for p in _ai_refused(data)}
    assert english == {
        "synonym_empty": "synonyms: empty term in '云笺': ['云签', ' ']",
        "url_not_http": "'127.0.0.1:8001/v1' must be an http:// or https:// URL",
        "secret_not_text": "must be a string (write secrets as ${ENV_VAR})",
        "openai_needs_settings": "provider openai needs the openai: {base_url, model, api_key} settings",
    }
    (problem,) = _ai_refused({"openai": {**OPENAI, "base_url": "ftp://x"}})
    assert problem_words(translator("zh"), "settings", problem.problem, problem.values, problem.reason) == (
        "“ftp://x”不是网址：须以 http:// 或 https:// 开头"
    )
    # a problem without words (a plain ValueError's) keeps its English reason, and so does one
    # whose words name a value it lacks (an input that is not a plain value)
    assert problem_words(translator("zh"), "settings", "value_error", {}, "some reason") == "some reason"
    assert (
        problem_words(translator("zh"), "settings", "int_parsing", {"ge": 1}, "some reason") == "some reason"
    )
