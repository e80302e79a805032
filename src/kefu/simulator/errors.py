"""WeCom error codes and the exact shape of an error answer (wecom-kf-api.md §0, §10).

Every API answers HTTP 200; the outcome is `errcode`. Error messages carry
WeCom's suffix `, hint: [...], from ip: ..., more info at ...?e=<code>`.
"""

from __future__ import annotations

import secrets
from typing import Any

# errmsg head texts. The ones seen in real answers are quoted from §0; the rest
# are our English renderings of the error table (clients must not parse them).
ERRMSG: dict[int, str] = {
    -1: "system busy",
    40001: "invalid credential",
    40003: "invalid userid",
    40004: "invalid media type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40011: "invalid video size",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40058: "invalid parameter",
    40096: "invalid external userid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    42001: "access_token expired",
    44004: "empty content",
    45001: "media size out of limit",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    48002: "api forbidden",
    60020: "not allow to access from your ip",
    60111: "userid not found",
    60123: "invalid party id",
    95000: "invalid open_kfid",
    95001: "send msg count limit",
    95002: "send msg time limit",
    95004: "open_kfid not exist",
    95005: "kf account count out of range",
    95006: "invalid kf account name",
    95007: "invalid msg token",
    95008: "menu item count out of limit",
    95009: "invalid menu item type",
    95013: "session already end",
    95014: "user is not servicer",
    95016: "invalid service state transition",
    95018: "send msg session status invalid",
    95019: "servicer stopped reception",
}

MORE_INFO = "https://open.work.weixin.qq.com/devtool/query?e={code}"


class WeComError(Exception):
    """Raised by the simulator's domain code; rendered as `{"errcode", "errmsg"}` with HTTP 200."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(f"{errcode} {detail}".strip())
        self.errcode = errcode
        self.detail = detail


def errmsg(errcode: int, ip: str, detail: str = "") -> str:
    """The full errmsg: head text (plus our detail, after a colon), then WeCom's suffix."""
    head = ERRMSG.get(errcode, "error")
    if detail:
        head = f"{head}: {detail}"
    hint = f"{secrets.token_hex(4)}-{secrets.token_hex(5)}"
    return f"{head}, hint: [{hint}], from ip: {ip}, more info at {MORE_INFO.format(code=errcode)}"


def error_body(errcode: int, ip: str, detail: str = "") -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg(errcode, ip, detail)}


def ok(**fields: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **fields}


class ControlError(Exception):
    """A control-API request that cannot be done (HTTP status + a sentence a person can act on)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
