"""The one base of domain errors: a message a person can act on, and the HTTP status it maps to."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Raised by services for bad input or state; routes answer `status_code`, the CLI exits 2."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Fields an API answer carries beside `error` and `message` (none by default)."""
        return {}


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"
