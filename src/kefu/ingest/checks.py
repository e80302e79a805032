"""What a callback request must look like before it may join a shared batch (recorder.py).

Everything here is cheap and needs no database: a malformed request is answered on its own,
so it never reaches the group-committed transaction that genuine callbacks share."""

from __future__ import annotations

from kefu.db.base import MAX_ID

MAX_ID_DIGITS = len(str(MAX_ID))


def connection_id_of(text: str) -> int | None:
    """The connection id in the callback path, or None when no connection can have it
    (answered 404 at once: a number past 64 bits must never reach a query)."""
    if not (0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
