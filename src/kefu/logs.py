"""Structured logs (structlog) that never carry a secret."""

from __future__ import annotations

import logging
import re
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"(secret|token|aes_key|encoding_aes_key|password|access_token|api_key|echostr)", re.I
)
# access_token=... in URLs, corpsecret=... in gettoken URLs
SECRET_IN_TEXT = re.compile(r"((?:access_token|corpsecret|secret|token)=)[^&\s\"']+", re.I)


def mask(value: Any) -> str:
    text = str(value)
    return text[:3] + "…" if len(text) > 6 else "…"


def _scrub(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if key == "event":
            event[key] = SECRET_IN_TEXT.sub(r"\1***", str(value))
        elif SECRET_KEYS.search(key) and value is not None:
            event[key] = mask(value)
        elif isinstance(value, str):
            event[key] = SECRET_IN_TEXT.sub(r"\1***", value)
    return event


def configure_logging(level: str = "INFO", json: bool = False, *, cache: bool = True) -> None:
    """Tracebacks are plain text without local variables: rich's "show locals" would print
    secrets held in a frame (an app secret, an access token) straight into the log."""
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger().setLevel(level)  # basicConfig sets it only the first time (at import)
    # httpx logs every request at INFO; Kefu logs the WeCom calls that matter itself.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub,
    ]
    if json:
        processors.append(structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=cache,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


# Safe defaults for code that logs before (or without) configure_logging: tests, libraries.
# Not cached: a logger cached now would ignore a later configure_logging (a command's level and
# stream) and structlog's capture_logs in tests.
configure_logging(cache=False)
