"""新建接入's check: fetch a token and list the kf accounts, and say in words what is wrong.

Always with a fresh in-memory token cache, so a cached token can never hide a
wrong secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kefu.runtime import Runtime
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import HINTS, WeComError, WeComTransportError, errmsg_head
from kefu.wecom.results import KfAccountInfo
from kefu.wecom.tokens import MemoryTokenCache

# `problem` values: stable identifiers for programs; `message` is for people.
WRONG_SECRET = "wrong_secret"  # noqa: S105 — a problem name, not a password
WRONG_CORP_ID = "wrong_corp_id"
IP_NOT_ALLOWED = "ip_not_allowed"
API_NOT_ENABLED = "api_not_enabled"
EDITION_MISMATCH = "edition_mismatch"
UNREACHABLE = "unreachable"
WECOM_ERROR = "wecom_error"
NOT_CHECKED = "not_checked"

# A person is waiting on the answer: retry an unreachable WeCom briefly (0.25 + 0.5 + 1 s).
CHECK_RETRY_BASE_S = 0.25
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f:.]+)")


@dataclass
class ConnectionCheck:
    ok: bool
    problem: str | None
    message: str
    accounts: list[KfAccountInfo] = field(default_factory=list)

    @property
    def manageable(self) -> list[KfAccountInfo]:
        # manage_privilege is omitted for component apps; a self-built app always gets it.
        return [a for a in self.accounts if a.manage_privilege is not False]


def not_checked(reason: str) -> ConnectionCheck:
    return ConnectionCheck(ok=False, problem=NOT_CHECKED, message=reason)


def interactive_client(rt: Runtime, *, corp_id: str, secret: str) -> WeComClient:
    """A client for credentials that are not (or not yet) stored, while a person waits: a fresh
    in-memory token cache and brief retries."""
    return WeComClient(
        base_url=rt.settings.wecom_api_base,
        corp_id=corp_id,
        secret=secret,
        http=rt.wecom_http,
        token_cache=MemoryTokenCache(),
        clock=rt.clock,
        retry_base_s=CHECK_RETRY_BASE_S,
    )


async def check_connection(rt: Runtime, *, corp_id: str, secret: str) -> ConnectionCheck:
    """Fetch a token and call kf/account/list; never raises for a WeCom or network failure."""
    client = interactive_client(rt, corp_id=corp_id, secret=secret)
    try:
        await client.get_token()
        accounts = await client.account_list_all()
    except WeComError as exc:
        problem, words = describe_wecom_error(exc)
        return ConnectionCheck(ok=False, problem=problem, message=words)
    except WeComTransportError as exc:
        return ConnectionCheck(
            ok=False,
            problem=UNREACHABLE,
            message=f"WeCom unreachable at {rt.settings.wecom_api_base} ({exc.reason}): check this "
            "server's network, proxy and firewall, or KEFU_WECOM_API_BASE.",
        )
    check = ConnectionCheck(ok=True, problem=None, message="", accounts=list(accounts))
    check.message = _describe_accounts(check)
    return check


def _describe_accounts(check: ConnectionCheck) -> str:
    manageable = check.manageable
    if not manageable:
        return (
            "Connected, but this app may manage no 微信客服 account yet: in the 微信客服 admin page, "
            "通过API管理会话消息 → 企业内部开发 → 可管理的客服账号, choose the accounts for this app."
        )
    names = ", ".join(f"{a.name or '(no name)'} ({a.open_kfid})" for a in manageable)
    others = len(check.accounts) - len(manageable)
    tail = f"; {others} more listed that it may not manage" if others else ""
    return f"Connected. This app may manage {len(manageable)} account(s): {names}{tail}."


def describe_wecom_error(exc: WeComError) -> tuple[str, str]:
    """(problem, words) for an error of gettoken or kf/account/list: what went wrong, then
    what to do — the advice is the client's own hint for the code (kefu.wecom.errors.HINTS)."""
    code = exc.errcode
    if code == 40001:
        return WRONG_SECRET, f"Wrong secret: WeCom rejected the Secret (40001 invalid credential). {exc.hint}"
    if code == 40013:
        return (
            WRONG_CORP_ID,
            f"Wrong corpid: WeCom does not know this corp ID (40013 invalid corpid). {exc.hint}",
        )
    if code == 60020:
        match = _FROM_IP.search(exc.errmsg or "")
        ip = f" ({match.group(1)})" if match else ""
        return IP_NOT_ALLOWED, f"IP not allowed: this server's IP{ip} was refused (60020). {exc.hint}"
    if code in (48002, 95017):
        # Either way the app must be listed under 可调用接口的应用: 48002's hint says how.
        return API_NOT_ENABLED, f"微信客服 API not enabled for this app ({code}): {HINTS[48002]}"
    if code in (95011, 95012):
        return EDITION_MISMATCH, f"Secret of the wrong edition ({code}): {exc.hint}"
    head = errmsg_head(exc.errmsg) or "no message"
    hint = f" {exc.hint}" if exc.hint else ""
    return WECOM_ERROR, f"WeCom refused {exc.endpoint} with error {code} ({head}).{hint}"
