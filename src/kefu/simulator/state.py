"""The simulator's in-memory world: corps, tokens, accounts, servicers, customers,
sessions, per-account streams, media, event codes, the send log.

Everything lives in one `World` guarded by one re-entrant lock: it is a fake,
and a single lock makes every request atomic, so concurrent calls can never
see half an update. Domain time always comes from the injected `Clock`.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kefu.clock import Clock
from kefu.simulator.errors import WeComError

TOKEN_TTL_S = 7200  # gettoken expires_in (§1.2)
SYNC_TOKEN_TTL_S = 600  # callback Token valid 10 minutes (§2.5)
RETENTION_S = 3 * 86400  # sync_msg keeps 3 days; media ids valid 3 days (§3.3, §8.7)
WINDOW_S = 48 * 3600  # send window and session length (§5.3, §7.1)

_ID_CHARS = string.ascii_letters + string.digits
_URLSAFE = _ID_CHARS + "-_"


def random_id(prefix: str, length: int, alphabet: str = _ID_CHARS) -> str:
    """An opaque id in WeCom's style (`wk…`, `wm…`, `ENC…`); clients must never parse it."""
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length - len(prefix)))


def new_corpid() -> str:
    return "ww" + secrets.token_hex(8)


def new_open_kfid() -> str:
    return random_id("wk", 32, _URLSAFE)


def new_external_userid() -> str:
    return random_id("wm", 32, _URLSAFE)


def new_msgid() -> str:
    return random_id("", 24, _URLSAFE)


def new_media_id() -> str:
    return random_id("", 44, _URLSAFE)


@dataclass
class Settings:
    """Switches a test flips through the control API (`/_sim/api/settings`)."""

    callback_timeout_s: float = 5.0
    verify_timeout_s: float = 5.0  # as long as WeCom waits for a callback (§2.6); 1 s failed loaded hosts
    callback_retries: int = 3  # re-sends after the first attempt (§2.6: 1 + 3)
    # 0/1/2 → 4 and the same-state moves 1→1, 2→2 are UNCONFIRMED (§7.4).
    allow_unconfirmed_moves: bool = True
    # Window/quota violations answer 0 and later push msg_send_fail (4/6) instead of 95002/95001.
    async_send_failures: bool = False
    # gettoken revokes the corp's earlier tokens. WeCom's docs no longer promise that repeated
    # fetches return the same token (UNCONFIRMED): a client must not depend on either behaviour.
    revoke_previous_tokens: bool = False


@dataclass
class Member:
    """A member of the corp who may be listed as a servicer."""

    userid: str
    name: str
    activated: bool = True
    department_ids: list[int] = field(default_factory=list)
    status: int = 0  # servicer/list encoding: 0 = 接待中, 1 = 停止接待
    stop_type: int = 0  # 0 = 停止接待, 1 = 暂时挂起 (only when status = 1)


@dataclass
class Customer:
    external_userid: str
    corpid: str
    nickname: str
    avatar: str
    gender: int
    unionid: str
    enter_context: dict[str, Any] | None = None
    last_activity_at: float | None = None  # last enter or message (customer/batchget 48 h rule)


@dataclass
class StreamItem:
    seq: int
    send_time: int
    item: dict[str, Any]  # exactly the `msg_list` element returned by sync_msg


@dataclass
class Account:
    open_kfid: str
    corpid: str
    name: str
    media_id: str
    avatar: str
    authorized: bool = True  # the app may manage it (`manage_privilege`)
    userids: list[str] = field(default_factory=list)  # reception list, in order added
    department_ids: list[int] = field(default_factory=list)
    stream: list[StreamItem] = field(default_factory=list)
    msgids: set[str] = field(default_factory=set)  # every msgid used in this account
    cursor_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    contact_ways: dict[str, str] = field(default_factory=dict)  # enc_scene -> scene


@dataclass
class HistoryEntry:
    at: int
    from_state: int
    to_state: int
    by: str  # customer | api | servicer | expiry
    servicer_userid: str = ""
    note: str = ""
    # The order of every session move in the world, across sessions and accounts: `at` has
    # whole seconds only, so this is what replays who served how many sessions at once.
    seq: int = 0


@dataclass
class Session:
    """The §7 state of one (account, customer) pair."""

    open_kfid: str
    external_userid: str
    state: int = 4
    servicer_userid: str = ""
    session_no: int = 0  # increments each time a new session starts (4 → 0 or re-take)
    started_at: int = 0
    last_customer_msg_at: int | None = None
    sends_since_customer_msg: int = 0
    entered_pool: bool = False  # reached 2 in this session (pool code already issued)
    entered_human: bool = False  # reached 3 in this session (taken code already issued)
    last_welcome_at: int | None = None
    refused: bool = False  # reject_customer_msg_switch = 1
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass
class EventCode:
    code: str
    kind: str  # welcome | pool | taken | ending
    open_kfid: str
    external_userid: str
    session_no: int
    state: int  # the state it was issued in (ignored for welcome)
    expires_at: int
    used: bool = False


@dataclass
class Media:
    media_id: str
    corpid: str
    type: str
    filename: str
    content_type: str
    data: bytes
    created_at: int


@dataclass
class AccessToken:
    token: str
    corpid: str
    expires_at: int
    revoked_errcode: int | None = None  # set by forced invalidation: 40014 or 42001


@dataclass
class SyncToken:
    token: str
    corpid: str
    expires_at: int


@dataclass
class Corp:
    corpid: str
    secret: str
    name: str
    callback_token: str
    encoding_aes_key: str
    agent_id: str | None = "1000002"
    callback_url: str | None = None
    ip_allowlist: list[str] | None = None
    members: dict[str, Member] = field(default_factory=dict)
    account_ids: list[str] = field(default_factory=list)


@dataclass
class SendRecord:
    """One call of send_msg / send_msg_on_event, whatever its outcome."""

    seq: int
    at: int
    endpoint: str
    corpid: str
    open_kfid: str
    touser: str
    msgtype: str
    requested_msgid: str
    msgid: str
    errcode: int
    delivered: bool = False
    fail_type: int | None = None
    fault: bool = False
    request: dict[str, Any] = field(default_factory=dict)


@dataclass
class Received:
    """A message as the WeChat customer sees it on their phone."""

    msgid: str
    open_kfid: str
    external_userid: str
    send_time: int
    source: str  # send_msg | send_msg_on_event | servicer
    msgtype: str
    body: dict[str, Any]
    servicer_userid: str = ""
    code_kind: str = ""
    recalled: bool = False
    seq: int = 0  # position among all appends and deliveries (orders transcripts)


Notifier = Callable[["Corp", "str | None", str], None]


class World:
    """All simulator state. Hold `lock` for every read-modify-write."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.settings = Settings()
        # Set by the app: called with (corp, open_kfid, plaintext xml) to deliver a callback.
        self.notifier: Notifier | None = None
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.corps: dict[str, Corp] = {}
            self.accounts: dict[str, Account] = {}
            self.customers: dict[str, Customer] = {}
            self.sessions: dict[tuple[str, str], Session] = {}
            self.tokens: dict[str, AccessToken] = {}
            self.sync_tokens: dict[str, SyncToken] = {}
            self.media: dict[str, Media] = {}
            self.codes: dict[str, EventCode] = {}
            self.contact_ways: dict[str, tuple[str, str]] = {}  # enc_scene -> (open_kfid, scene)
            self.sends: list[SendRecord] = []
            self.received: list[Received] = []
            self.version = getattr(self, "version", 0)  # monotonic across resets (long-pollers)
            self._seq = 0
            self._move_seq = 0

    def now(self) -> int:
        return int(self.clock.timestamp())

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def next_move_seq(self) -> int:
        """The next session move's place in the world's one order of moves (`HistoryEntry.seq`)."""
        self._move_seq += 1
        return self._move_seq

    def touch(self) -> None:
        """Mark a change; wakes `wait_for_change` (live pages long-poll on it)."""
        with self.lock:
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, since: int, timeout_s: float) -> int:
        with self.lock:
            self._changed.wait_for(lambda: self.version != since, timeout=timeout_s)
            return self.version

    # -- lookups that raise the WeCom errcode a real server would -----------

    def corp(self, corpid: str) -> Corp:
        corp = self.corps.get(corpid)
        if corp is None:
            raise WeComError(40013)
        return corp

    def account_for(self, corp: Corp, open_kfid: Any) -> Account:
        """The account `open_kfid` of `corp`, or 40058 / 95000 / 95004 / 48002."""
        if not open_kfid:
            raise WeComError(40058, "open_kfid missing")
        if not isinstance(open_kfid, str) or len(open_kfid.encode()) > 64:
            raise WeComError(95000)
        account = self.accounts.get(open_kfid)
        if account is None or account.corpid != corp.corpid:
            raise WeComError(95004)
        if not account.authorized:
            # UNCONFIRMED: an account the app may not manage; we answer 48002 "api forbidden".
            raise WeComError(48002, "the app may not manage this kf account")
        return account

    def customer_for(self, corp: Corp, external_userid: Any) -> Customer:
        if not external_userid:
            raise WeComError(40058, "external_userid missing")
        customer = self.customers.get(external_userid) if isinstance(external_userid, str) else None
        if customer is None or customer.corpid != corp.corpid:
            raise WeComError(40096)
        return customer

    def session(self, open_kfid: str, external_userid: str) -> Session:
        """The session of this pair (created in state 4), expired lazily after 48 h."""
        key = (open_kfid, external_userid)
        session = self.sessions.get(key)
        if session is None:
            session = self.sessions[key] = Session(open_kfid, external_userid)
        now = self.now()
        if session.state != 4 and now >= session.started_at + WINDOW_S:
            # §7.1: a session lasts at most 48 h; no event is pushed (UNCONFIRMED).
            expired_at = session.started_at + WINDOW_S
            session.history.append(
                HistoryEntry(expired_at, session.state, 4, "expiry", seq=self.next_move_seq())
            )
            session.state = 4
            session.servicer_userid = ""
        return session

    def member_is_servicer(self, account: Account, userid: str) -> bool:
        if userid in account.userids:
            return True
        member = self.corps[account.corpid].members.get(userid)
        return bool(member and set(member.department_ids) & set(account.department_ids))

    def issue_sync_token(self, corp: Corp) -> str:
        token = random_id("ENC", 48)
        self.sync_tokens[token] = SyncToken(token, corp.corpid, self.now() + SYNC_TOKEN_TTL_S)
        return token

    def notify(self, corp: Corp, open_kfid: str | None, xml: str) -> None:
        """Hand a plaintext callback to the dispatcher (if the corp has a callback URL)."""
        if self.notifier is not None and corp.callback_url:
            self.notifier(corp, open_kfid, xml)
