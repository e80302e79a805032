"""The one base of domain errors: a message a person can act on, and the HTTP status it maps to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Values = Mapping[str, str | int]


class DomainError(Exception):
    """Raised by services for bad input or state; routes answer `status_code`, the CLI exits 2.

    The message is English (the CLI and the API show it). A refusal a console user can cause
    also carries a `problem` code and the `values` it names, which the console words in the
    reader's language (kefu.console.i18n.problem_words); "" for a message without a code."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, problem: str = "", values: Values | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem
        self.values = dict(values or {})

    def details(self) -> dict[str, Any]:
        """Fields an API answer carries beside `error` and `message`: the problem's code and
        values when it has one."""
        return {"problem": self.problem, "values": self.values} if self.problem else {}


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class TooLarge(DomainError):
    status_code = 413
    code = "too_large"
