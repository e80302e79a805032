"""Pydantic building blocks shared by every settings model and the config file.

Strict models (unknown keys refused), WeCom's text limits and the control characters no text an
admin writes may hold, secrets written as `${VAR}`, and
pydantic's validation errors as `PATH: reason` problems a person can act on, each with a code
and values the console words in the reader's language: pydantic's own error type and context,
or the code of a Kefu rule, which raises `PydanticCustomError(code, English template, values)`.
It sits in the base layer so that the domain's settings types (kefu.ai.settings,
kefu.accounts.settings_types) and kefu.config's file schema share one definition of each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

TEXT_MAX_BYTES = 2048  # a WeCom text message (wecom-kf-api.md §5.2)
BUTTON_MAX_BYTES = 128  # a msgmenu click item
MENU_MAX_ITEMS = 10


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class UnsetVar:
    """A secret written as `${NAME}` whose variable is not set: keep the stored value."""

    name: str


def secret_check(check: Callable[[str], str]) -> PlainValidator:
    """The validator of a secret field (`Annotated[Any, secret_check(...)]`): a string passed
    through `check`, or an `UnsetVar` (keep the stored one)."""

    def validate(value: Any) -> str | UnsetVar:
        if isinstance(value, UnsetVar):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(
                "secret_not_text", "must be a string (write secrets as {example})", {"example": "${ENV_VAR}"}
            )
        return check(value)

    return PlainValidator(validate)


def utf8_at_most(limit: int, what: str) -> Any:
    def check(value: str) -> str:
        size = len(value.encode())
        if size > limit:
            raise PydanticCustomError(
                "text_too_many_bytes",
                "{what} is {size} bytes in UTF-8; WeCom allows at most {limit}",
                {"what": what, "size": size, "limit": limit},
            )
        return value

    return AfterValidator(check)


# Validation context: settings read back from the database, not typed now. A rule added since
# (a text's placeholders, its control characters) does not refuse what an earlier Kefu stored:
# refusing it there would stop the account, every decision reads its settings.
STORED = "stored"
# Control characters but tab and line breaks: Word's line break (\x0b) pasted in, an escape
# sequence. Invisible in a message, and no worksheet can hold them (an XLSX export failed on them).
# NUL is refused before, as text no database stores (kefu.db).
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f]")


def control_char(text: str) -> str | None:
    """The first control character `text` may not hold, written as `\\x0b`; None when it holds none.
    The one rule of the texts admins write: settings, knowledge entries (kefu.ai.kb_csv)."""
    found = _CONTROL.search(text)
    return f"\\x{ord(found.group()):02x}" if found else None


def _no_control(value: str, info: ValidationInfo) -> str:
    if info.context and info.context.get(STORED):
        return value
    if char := control_char(value):
        raise PydanticCustomError(
            "text_control", "holds an invisible control character ({char}); remove it", {"char": char}
        )
    return value


# Serialization context: a document written to be applied back (`kefu config export`).
EXPORT = "export"


def _exported(value: str, info: SerializationInfo) -> str:
    """A text as an export writes it: without the control characters that STORED let through
    and the file's reader refuses (invisible in a message: no visible text is lost)."""
    return _CONTROL.sub("", value) if info.context and info.context.get(EXPORT) else value


# What every text an admin writes for customers is held to: no control character but tab and line breaks.
NO_CONTROL = AfterValidator(_no_control)
VISIBLE_ON_EXPORT = PlainSerializer(_exported)
AdminText = Annotated[str, NO_CONTROL, VISIBLE_ON_EXPORT]
MessageText = Annotated[str, utf8_at_most(TEXT_MAX_BYTES, "the text"), NO_CONTROL, VISIBLE_ON_EXPORT]
ButtonText = Annotated[
    str,
    Field(min_length=1),
    utf8_at_most(BUTTON_MAX_BYTES, "the button text"),
    NO_CONTROL,
    VISIBLE_ON_EXPORT,
]


def http_url(value: str) -> str:
    if not value.strip():  # said apart: “” is not a web address would puzzle whoever left it blank
        raise PydanticCustomError("url_empty", "the URL is empty")
    if not re.match(r"^https?://[^\s/]+", value):
        raise PydanticCustomError(
            "url_not_http",
            "{quoted} must be an http:// or https:// URL",
            {"quoted": repr(value), "url": value},
        )
    return value.rstrip("/")


# --- validation errors as problems -----------------------------------------------------------

PathKey = tuple[str | int, ...]


ProblemValues = Mapping[str, str | int | float]


@dataclass(frozen=True)
class Problem:
    """`path: reason` in English; `problem` is its code (pydantic's error type, or a Kefu rule's
    PydanticCustomError code; "" for a reason without one) and `values` what it names."""

    path: str
    line: int | None
    reason: str
    problem: str = ""
    values: ProblemValues = field(default_factory=dict)


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(path: PathKey, lines: dict[PathKey, int]) -> int | None:
    """The line of the nearest enclosing key that has one."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


# pydantic's own error types; any other type is a Kefu rule's PydanticCustomError code.
PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


def _plain(value: str | int | float) -> str | int | float:
    """A whole float as people write it (a bound `le=120.0` is said "120")."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def problem_values(err: Any) -> dict[str, str | int | float]:
    """What an error names: its context's plain values, the value given (`input`) when it is
    one, and for an unknown key its `name`; a whole float as a whole number."""
    values = {k: _plain(v) for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    given = err.get("input")
    if isinstance(given, str | int | float) and "input" not in values:
        values["input"] = _plain(given)
    if err["type"] == "extra_forbidden" and err["loc"]:
        values["name"] = str(err["loc"][-1])
    if err["type"] == "literal_error" and isinstance(values.get("expected"), str):
        values["expected"] = _choices(str(values["expected"]))
    return values


def _choices(expected: str) -> str:
    """pydantic's English list ("'a', 'b' or 'c'") as "a / b / c", which reads in either language."""
    quoted = re.findall(r"'([^']*)'", expected)
    return " / ".join(quoted) if quoted else expected


def problem_of(err: Any, lines: dict[PathKey, int]) -> Problem:
    """One of pydantic's errors as a problem, with the line of its key where known."""
    loc: PathKey = tuple(err["loc"])
    kind = err["type"]
    if kind == "value_error":
        reason = str(err["ctx"]["error"])
    elif kind not in PYDANTIC_ERROR_TYPES:  # a Kefu rule: its message is the whole reason
        reason = err["msg"]
    elif kind == "extra_forbidden":
        reason = f"unknown key {loc[-1]!r} (check its spelling; docs/configuration.md lists every key)"
    elif kind == "missing":
        reason = "required key is missing"
    else:
        reason = err["msg"]
        given = err.get("input")
        if isinstance(given, str | int | float | bool) or given is None:
            reason += f" (got {given!r})"
    path = format_path(loc) or "(top level)"
    return Problem(path, line_of(loc, lines), reason, kind, problem_values(err))


def validation_problems(exc: ValidationError, prefix: PathKey = ()) -> list[Problem]:
    """Pydantic's errors as `PATH: reason` problems (no lines): for values given outside a file."""
    return [problem_of({**err, "loc": (*prefix, *err["loc"])}, {}) for err in exc.errors()]
