"""Errors of the WeCom client: one typed error per kind of outcome a caller must handle differently.

- `WeComError`: WeCom answered with errcode != 0 (the request reached WeCom and was refused).
- `WeComTransportError`: no usable answer (network, timeout, HTTP != 200, not JSON).
- `SendOutcomeUnknown`: a send may or may not have been delivered; record "possibly delivered".
- `StateTransferUnsettled`: an ambiguous `service_state/trans` did not take effect.

Decisions are made on `errcode` only; `errmsg` is kept for people (wecom-kf-api.md §0).
"""

from __future__ import annotations

import re

# Codes that mean "this access token is bad": refresh once and retry (wecom-kf-api.md §1.3).
TOKEN_ERRCODES = frozenset({40014, 42001, 41001})
SYSTEM_BUSY = -1

# A sentence a person can act on, per errcode (wecom-kf-api.md §1, §5.3, §7.5, §10).
HINTS: dict[int, str] = {
    -1: "WeCom is busy; the call may be retried in a moment.",
    40001: "The app secret is wrong, was reset, or the app is disabled: copy the self-built app's "
    "Secret (自建应用 Secret) again from the WeCom admin console.",
    40007: "The media_id is invalid or expired (temporary media lives 3 days): upload the file again.",
    40013: "The corp ID is wrong: copy the 企业ID from 我的企业 → 企业信息 in the WeCom admin console.",
    40014: "The access token was rejected; Kefu fetches a new one automatically. If this persists, "
    "check that the secret belongs to the app allowed to call the 微信客服 API.",
    40058: "WeCom rejected a parameter (missing, too long or malformed).",
    40096: "The customer's external_userid is invalid for this corp.",
    41001: "The request carried no access token; Kefu fetches one automatically.",
    42001: "The access token expired; Kefu fetches a new one automatically.",
    44004: "The text message is empty.",
    45002: "The message content is too long.",
    45009: "WeCom's rate limit was hit (or this IP was blocked after repeated wrong secrets): "
    "wait a minute and retry; check the secret if it keeps happening.",
    45033: "Too many concurrent calls to WeCom; retry shortly.",
    48002: "This app may not call the 微信客服 API: in 微信客服 → API, add the self-built app to "
    "「可调用接口的应用」 and choose the accounts it may manage.",
    60011: "The app has no privilege over that member or department (check its visible range).",
    60020: "This server's IP is not on the app's trusted IP list (企业可信IP): add it in the app's "
    "settings in the WeCom admin console; it takes about a minute to apply.",
    95000: "The open_kfid is invalid.",
    95001: "WeCom allows at most 5 messages per customer message; wait for the customer to write again.",
    95002: "More than 48 hours passed since the customer's last message; WeCom allows no more "
    "messages until the customer writes again.",
    95003: "The corp reached its reception capacity (unverified corps serve at most 100 customers): "
    "verify the corp and bind a WeChat Channels account.",
    95004: "The kf account does not exist (deleted, or it belongs to another corp).",
    95005: "The number of kf accounts is out of range (too many, or deleting the last one).",
    95006: "The kf account name is invalid.",
    95007: "The sync token expired or is invalid (it lives 10 minutes); the next callback brings a new one.",
    95008: "A menu message may have at most 10 items.",
    95009: "A menu item has a type WeCom does not know.",
    95011: "The 微信客服 is run inside WeCom, but the secret is the standalone 微信客服 secret: "
    "use the self-built app's secret.",
    95012: "The 微信客服 is standalone, but the secret is a WeCom app secret: use the 微信客服 secret.",
    95013: "The session has already ended.",
    95014: "That user is not a servicer of this kf account, or has not activated WeCom: add them to the "
    "account's reception list and have them log in once.",
    95016: "WeCom does not allow this session state change (an ended session cannot be moved).",
    95017: "The 微信客服 API switch is off for this corp: turn on API access in the 微信客服 admin page.",
    95018: "The session's state does not allow the API to send (a person is serving it, it is queued, "
    "or it has ended): only new and assistant-served sessions accept API messages.",
    95019: "The servicer has stopped or suspended reception; pick another servicer.",
    95026: "WeCom refuses new kf accounts while usage is low.",
    95027: "An unverified corp may create only 10 kf accounts.",
    95030: "The kf component forbids this message type.",
    95031: "The customer has not written within 48 hours; WeCom allows no message now.",
}

_ERRMSG_SUFFIX = re.compile(r",?\s*(hint:|more info at|from ip:).*$", re.S)
# Never carry a credential in an error text (httpx messages can quote a URL).
_SECRET_IN_TEXT = re.compile(r"((?:access_token|corpsecret)=)[^&\s\"']+", re.I)


def errmsg_head(errmsg: str) -> str:
    """`invalid credential, hint: [..], from ip: .., more info at ..` → `invalid credential`."""
    return _ERRMSG_SUFFIX.sub("", errmsg or "").strip()


def scrub(text: str) -> str:
    return _SECRET_IN_TEXT.sub(r"\1***", text)


class WeComError(Exception):
    """WeCom answered errcode != 0."""

    def __init__(self, *, errcode: int, errmsg: str, endpoint: str) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint
        self.hint: str | None = HINTS.get(errcode)
        head = errmsg_head(errmsg) or "(no message)"
        text = f"WeCom {endpoint} errcode {errcode}: {head}"
        super().__init__(f"{text} — {self.hint}" if self.hint else text)

    @property
    def is_token_error(self) -> bool:
        return self.errcode in TOKEN_ERRCODES


class WeComTransportError(Exception):
    """No usable answer from WeCom: network error, timeout, HTTP status != 200, or a body that is not JSON."""

    def __init__(self, *, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = scrub(reason)
        super().__init__(f"WeCom {endpoint} unreachable or unreadable: {self.reason}")


class SendOutcomeUnknown(Exception):
    """A send may have been delivered: record it as "possibly delivered", never re-send under a new msgid."""

    def __init__(self, *, endpoint: str, msgid: str, reason: str) -> None:
        self.endpoint = endpoint
        self.msgid = msgid
        self.reason = reason
        super().__init__(f"WeCom {endpoint} msgid {msgid}: outcome unknown ({reason})")


class StateTransferUnsettled(Exception):
    """`service_state/trans` got no clear answer, and `service_state/get` shows it did not happen.

    Safe to try the transfer again later; `observed_state` / `observed_servicer_userid` are what
    `service_state/get` reported.
    """

    def __init__(
        self,
        *,
        target_state: int,
        target_servicer_userid: str | None,
        observed_state: int,
        observed_servicer_userid: str | None,
        reason: str,
    ) -> None:
        self.target_state = target_state
        self.target_servicer_userid = target_servicer_userid
        self.observed_state = observed_state
        self.observed_servicer_userid = observed_servicer_userid
        self.reason = reason
        super().__init__(
            f"WeCom kf/service_state/trans to state {target_state} did not take effect "
            f"(session is in state {observed_state}) after: {reason}"
        )
