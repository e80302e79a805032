"""What a callback request must look like before it may join a shared batch (recorder.py).

Everything here is cheap and needs no database: a malformed request is answered on its own,
so it never reaches the group-committed transaction that genuine callbacks share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_SIGNATURE_CHARS = 40  # SHA1 in hex (wecom-kf-api.md §2.4)
MAX_TIMESTAMP_CHARS = 12  # Unix seconds: WeCom sends 10 digits
# WeCom documents no size for the nonce (its nonces are ~10 digits): a generous bound of ours.
MAX_NONCE_CHARS = 64
# Decrypted fields Kefu stores or passes on to WeCom, in bytes (wecom-kf-api.md §0, §2.5).
FIELD_MAX_BYTES = {"OpenKfId": 64, "Token": 128, "AuthAddOpenKfId": 64, "AuthDelOpenKfId": 64}


@dataclass(frozen=True)
class Refusal:
    status: int
    body: str
    reason: str  # the log event's name


STALE = Refusal(403, "stale timestamp", "callback.stale_timestamp")


@dataclass
class CallbackStats:
    """What an operator reads in /healthz: counts of this process since it started."""

    stale_refused: int = 0


def check_query(params: Mapping[str, str], *, now: float, window_s: float) -> Refusal | None:
    """Sizes of the signed query parameters, and a timestamp within `window_s` of Kefu's clock,
    so a captured request cannot be played back later (within it, replay keys catch it)."""
    if (
        len(params.get("msg_signature", "")) > MAX_SIGNATURE_CHARS
        or len(params.get("nonce", "")) > MAX_NONCE_CHARS
    ):
        return Refusal(400, "parameter too long", "callback.parameter_too_long")
    timestamp = params.get("timestamp", "")
    if not (0 < len(timestamp) <= MAX_TIMESTAMP_CHARS and timestamp.isascii() and timestamp.isdigit()):
        return Refusal(400, "bad timestamp", "callback.bad_timestamp")
    if abs(int(timestamp) - int(now)) > window_s:  # whole seconds, as WeCom signs them
        return STALE
    return None


def field_too_long(fields: Mapping[str, str]) -> str | None:
    """The first decrypted field longer than WeCom documents, or None. (The auth-change tags
    may list several ids, comma-separated: each is checked.)"""
    for name, limit in FIELD_MAX_BYTES.items():
        for part in fields.get(name, "").split(","):
            if len(part.strip().encode()) > limit:
                return name
    return None
