"""The account page's tabs as HTML forms: which settings keys each tab edits, how a submitted
form becomes the settings value, and where a validation problem is shown.

A form field is named by its settings path (`hours.weekly.mon`, `queue.max_length`), so the
problems of kefu.accounts.settings.validate_settings (a path and a coded reason, the same check
as the config file and the REST API) land beside the field they are about, worded by the page.
A tab changes only its own keys: the other tabs' values are kept as stored. No rule lives here
— text is only split into the shapes the schema expects, and the schema judges them."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from kefu.schema_types import Problem

TABS = ("basic", "reception", "hours", "queue", "advanced")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUTING_RULES = ("exclusive", "last", "idle", "round_robin")
MESSAGE_MODES = ("ai", "fixed", "none")
FORM_ERROR = "_form"

# Message settings ({mode, text}) of each tab; the off-hours text is a plain string, never null.
MESSAGES = {
    "basic": ("messages.paused",),
    "reception": ("reception.non_text_reply",),
    "hours": ("hours.off_hours_message",),
    "queue": (
        "queue.over_length_message",
        "queue.transfer_refused_message",
        "queue.timeout_message",
        "queue.pool_notice",
        "queue.taken_notice",
    ),
    "advanced": ("messages.welcome", "messages.ending", "messages.survey"),
}
CHECKBOXES = {
    "basic": (),
    "reception": (
        "reception.keyword_transfer.enabled",
        "reception.button_transfer.enabled",
        "reception.not_sure_streak.enabled",
    ),
    "hours": ("hours.statutory_holidays", "hours.wait_for_opening"),
    "queue": ("queue.no_reply_notice.enabled",),
    "advanced": (),
}
# Plain values: text as typed; "" becomes null where the key is optional.
VALUES = {
    "basic": (),
    "reception": (
        "reception.mode",
        "reception.button_transfer.text",
        "reception.not_sure_streak.count",
        "session.ai_idle_timeout_minutes?",
    ),
    "hours": ("timezone",),
    "queue": (
        "queue.default_max_sessions",
        "queue.max_length?",
        "queue.timeout_minutes?",
        "queue.pool_notice.next_in_line_text?",
        "queue.no_reply_notice.minutes",
        "queue.no_reply_notice.text?",
    ),
    "advanced": (),
}
LISTS = {  # one item per line (or separated by commas)
    "basic": (),
    "reception": ("reception.keyword_transfer.keywords",),
    "hours": ("hours.closed_dates", "hours.extra_working_dates"),
    "queue": (),
    "advanced": (),
}
# A check about a whole group is shown beside the field it is really about.
ANCHORS = {
    "reception.keyword_transfer": "reception.keyword_transfer.keywords",
    "queue": "queue.no_reply_notice.enabled",
    "queue.no_reply_notice": "queue.no_reply_notice.text",
    "routing": "routing.rules",
}
# A rule about a whole section, by its code: shown beside the field it is really about.
PROBLEM_ANCHORS = {
    "survey_needs_options": "messages.survey.options",
    "dates_closed_and_working": "hours.closed_dates",
}
_SPLIT = re.compile(r"[\n,，、;；]+")
_INDEX = re.compile(r"\[\d+\]")
_OPTION = re.compile(r"messages\.survey\.options\[(\d+)\]")


def split_items(text: str) -> list[str]:
    return [item.strip() for item in _SPLIT.split(text or "") if item.strip()]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _text(form: Mapping[str, Any], name: str) -> str:
    return str(form.get(name) or "").strip()


def _periods(text: str) -> list[str]:
    return [p.replace(" ", "") for p in split_items(text)]


def _survey_options(text: str) -> list[dict[str, Any]]:
    """'非常满意=100' per line; a line without '=score' is kept (its score missing) so the schema
    names what is wrong."""
    options: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        if "=" in line:
            label, _, score = line.rpartition("=")
            options.append({"label": label.strip(), "score": score.strip()})
        elif line.strip():
            options.append({"label": line.strip()})
    return options


def survey_option_of(path: str) -> int | None:
    """Which survey option (1, 2, … as the lines are typed, blank ones aside) a problem is about."""
    found = _OPTION.match(path)
    return int(found.group(1)) + 1 if found else None


def form_to_settings(stored: Mapping[str, Any], tab: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The settings value after this tab's form: the stored value with the tab's keys replaced."""
    data = copy.deepcopy(dict(stored))
    for path in MESSAGES[tab]:
        text = str(form.get(f"{path}.text") or "")
        value: dict[str, Any] = {
            "mode": _text(form, f"{path}.mode"),
            "text": text if text.strip() or path == "hours.off_hours_message" else None,
        }
        if path == "messages.survey":
            value["options"] = _survey_options(str(form.get(f"{path}.options") or ""))
        _set(data, path, value)
    for path in CHECKBOXES[tab]:
        _set(data, path, form.get(path) == "1")
    for spec in VALUES[tab]:
        path, optional = spec.rstrip("?"), spec.endswith("?")
        raw = _text(form, path)
        _set(data, path, None if optional and not raw else raw)
    for path in LISTS[tab]:
        _set(data, path, split_items(str(form.get(path) or "")))
    if tab == "hours":
        for day in WEEKDAYS:
            _set(data, f"hours.weekly.{day}", _periods(str(form.get(f"hours.weekly.{day}") or "")))
        adjusted = _text(form, "hours.adjusted_workday")
        _set(data, "hours.adjusted_workday", _periods(adjusted) if adjusted else None)
    if tab == "queue":
        _set(data, "routing.rules", _routing_rules(form))
    return data


def _routing_rules(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rules ticked, in the order typed beside them (ties keep the listed order)."""
    chosen = []
    for index, rule in enumerate(ROUTING_RULES):
        if form.get(f"routing.{rule}.use") == "1":
            order = _text(form, f"routing.{rule}.order")
            key = int(order) if order.isascii() and order.isdigit() else 100 + index
            when = _text(form, f"routing.{rule}.when_unavailable") or "next"
            chosen.append((key, index, {"rule": rule, "when_unavailable": when}))
    return [rule for _, _, rule in sorted(chosen, key=lambda item: (item[0], item[1]))]


def field_names(tab: str) -> list[str]:
    """The tab's form fields in page order: where a problem about a path is shown."""
    names = [f"{path}.text" for path in MESSAGES[tab]] + [f"{path}.mode" for path in MESSAGES[tab]]
    names += list(CHECKBOXES[tab]) + [spec.rstrip("?") for spec in VALUES[tab]] + list(LISTS[tab])
    if tab == "hours":
        names += [f"hours.weekly.{day}" for day in WEEKDAYS] + ["hours.adjusted_workday"]
    if tab == "advanced":
        names.append("messages.survey.options")
    if tab == "queue":
        names.append("routing.rules")
    if tab == "basic":
        names.append("avatar")
    return names


def errors_by_field(tab: str, problems: list[Problem], words: Callable[[Problem], str]) -> dict[str, str]:
    """{form field: the problems' `words`} (joined by "; "); what no field of the tab is about
    goes under FORM_ERROR (shown at the top of the form)."""
    names = field_names(tab)
    errors: dict[str, str] = {}
    for problem in problems:
        path = PROBLEM_ANCHORS.get(problem.problem) or _INDEX.sub("", problem.path)
        field = _field_for(ANCHORS.get(path, path), names)
        said = words(problem)
        errors[field] = f"{errors[field]}; {said}" if field in errors else said
    return errors


def _field_for(path: str, names: list[str]) -> str:
    if not path or path == "(top level)":
        return FORM_ERROR
    if path in names:
        return path
    inner = [n for n in names if n.startswith(path + ".")]  # a whole group: its first field
    if inner:
        return inner[0]
    outer = [n for n in names if path.startswith(n + ".") or path == n]
    if outer:
        return max(outer, key=len)
    if path.endswith(".text") or path.endswith(".mode"):
        return _field_for(path.rsplit(".", 1)[0], names)
    return FORM_ERROR
