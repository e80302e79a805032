"""Fitting an answer into one WeCom message: 1,024 bytes as a menu head, 2,048 as plain text."""

from __future__ import annotations

MENU_HEAD_LIMIT = 1024  # msgmenu head_content, bytes of UTF-8
TEXT_LIMIT = 2048  # text content, bytes of UTF-8

SENTENCE_ENDS = frozenset("。！？!?；;\n")
ELLIPSIS = "…"
_ELLIPSIS_BYTES = len(ELLIPSIS.encode())


def utf8_len(text: str) -> int:
    return len(text.encode())


def fit_answer(text: str, limit_bytes: int) -> str:
    """`text` unchanged if its UTF-8 fits in `limit_bytes`; else a shorter prefix that fits.

    The cut is at the last sentence end (。！？!?；; or a line break) that fits,
    if that keeps at least half the budget; otherwise the text is cut at a
    character and "…" appended. The result is always a prefix of `text`, or a
    prefix plus "…", and never longer than `limit_bytes` bytes.
    """
    if limit_bytes < 0:
        raise ValueError("limit_bytes must not be negative")
    if utf8_len(text) <= limit_bytes:
        return text
    prefix = _longest_prefix(text, limit_bytes)
    boundary = max((i + 1 for i, ch in enumerate(prefix) if ch in SENTENCE_ENDS), default=0)
    if boundary and utf8_len(prefix[:boundary]) * 2 >= limit_bytes:
        return prefix[:boundary].rstrip()
    if limit_bytes < _ELLIPSIS_BYTES:
        return prefix
    return _longest_prefix(text, limit_bytes - _ELLIPSIS_BYTES).rstrip() + ELLIPSIS


def _longest_prefix(text: str, limit_bytes: int) -> str:
    """The longest prefix of `text` (whole characters) whose UTF-8 fits in `limit_bytes`."""
    # Cut the bytes, then drop a trailing partial character.
    return text.encode()[:limit_bytes].decode(errors="ignore")
