"""接待人员: an account's servicer list, kept in step with WeCom.

The list (which userids, in which order, each one's `max_sessions` and `name`) is the admin's; WeCom
holds who is in the account's reception list and each one's reception status. Setting the
list reads `kf/servicer/list`, adds the missing ones (`kf/servicer/add`, one result per
userid: refused ones are kept with `in_wecom` false and the reason in words), removes the
others (`kf/servicer/del`), reads the list again for the statuses, then writes — WeCom
first, then one transaction; both WeCom calls are idempotent, so a retry is harmless.

Reception status (`status`: 0 = 接待中, 1 = 停止接待; `stop_type` 1 = 暂时挂起) follows
`kf/servicer/list` and the `servicer_status_change` events (whose encoding differs:
1 = 接待中, 2 = 停止接待) through `apply_servicer_status_event`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.kf_accounts import wecom_step
from kefu.accounts.models import KfAccount, Servicer
from kefu.accounts.service import get_connection, wecom_client
from kefu.accounts.settings import get_account
from kefu.accounts.settings_types import MAX_SESSIONS_CAP
from kefu.accounts.sync import enqueue_servicer_refresh, request_dispatch_for_connection
from kefu.audit.log import record
from kefu.errors import Invalid
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import HINTS, errmsg_head
from kefu.wecom.results import ServicerInfo, ServicerResult

log = get_logger(__name__)

RECEIVING, STOPPED = 0, 1  # servicer/list (and Servicer.status)
EVENT_RECEIVING, EVENT_STOPPED = 1, 2  # servicer_status_change
USER_NOT_FOUND = 60111
PER_CALL = 100  # userids per servicer/add|del call
MAX_NAME = 64  # characters of a servicer's name (Servicer.name)
# Per-item errcodes of servicer/add|del, in words (wecom-kf-api.md §8.3, §10).
ITEM_ERRORS = {
    USER_NOT_FOUND: "user does not exist in the corp (check the userid in 通讯录)",
    60011: "the app has no privilege over this member (add them to the app's visible range)",
    95014: "not a servicer of this account, or has not activated WeCom yet",
}
NOT_LISTED = "not in WeCom's reception list of this account any more (removed in the WeCom admin?)"


@dataclass(frozen=True)
class ServicerSpec:
    """One wanted servicer: the WeCom userid, an optional per-servicer cap (接待上限) and an
    optional name to show it by (WeCom's servicer list gives none)."""

    userid: str
    max_sessions: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.userid or len(self.userid) > 64:
            rule = f"a servicer userid must be 1–64 characters, got {self.userid!r}"
            raise Invalid(rule, "userid_length", {"max": 64})
        if self.max_sessions is not None and not 1 <= self.max_sessions <= MAX_SESSIONS_CAP:
            rule = f"{self.userid}: max_sessions must be 1–{MAX_SESSIONS_CAP}"
            raise Invalid(rule, "bad_cap", {"max": MAX_SESSIONS_CAP})
        if self.name is not None and not (self.name.strip() and len(self.name) <= MAX_NAME):
            rule = f"{self.userid}: a name must be 1–{MAX_NAME} characters, not blank"
            raise Invalid(rule, "servicer_name_length", {"max": MAX_NAME})


def describe_item(result: ServicerResult) -> str | None:
    """None when WeCom accepted the item, else why not, in words."""
    if result.ok:
        return None
    if result.errcode in ITEM_ERRORS:
        return describe_words(result.errcode)
    words = HINTS.get(result.errcode) or errmsg_head(result.errmsg)
    return f"WeCom errcode {result.errcode}: {words}"


def describe_words(errcode: int) -> str:
    """The words of a per-item errcode Kefu knows (ITEM_ERRORS): what the console translates."""
    return f"WeCom errcode {errcode}: {ITEM_ERRORS[errcode]}"


@dataclass
class ServicerSync:
    """What WeCom said while setting a list: per-userid results and the final reception list."""

    added: dict[str, ServicerResult] = field(default_factory=dict)
    removed: dict[str, ServicerResult] = field(default_factory=dict)
    listed: dict[str, ServicerInfo] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, str]:
        """userid → why WeCom refused it (adding or removing)."""
        out = {}
        for userid, result in [*self.added.items(), *self.removed.items()]:
            words = describe_item(result)
            if words is not None and not (result.errcode == USER_NOT_FOUND and userid in self.removed):
                out[userid] = words
        return out


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), PER_CALL):
        yield list(items[start : start + PER_CALL])


async def _listed(client: WeComClient, open_kfid: str) -> dict[str, ServicerInfo]:
    # Departments (department_id items) are WeCom's own affair; Kefu's list holds people.
    return {s.userid: s for s in await client.servicer_list(open_kfid) if s.userid is not None}


async def sync_in_wecom(client: WeComClient, open_kfid: str, wanted: Sequence[ServicerSpec]) -> ServicerSync:
    """Make WeCom's reception list of the account hold exactly `wanted` (no database)."""
    before = await _listed(client, open_kfid)
    wanted_ids = [s.userid for s in wanted]
    to_add = [u for u in wanted_ids if u not in before]
    to_remove = [u for u in before if u not in wanted_ids]
    sync = ServicerSync(listed=before)
    for chunk in _chunks(to_add):
        for result in await client.servicer_add(open_kfid, chunk):
            if result.userid is not None:
                sync.added[result.userid] = result
    for chunk in _chunks(to_remove):
        for result in await client.servicer_del(open_kfid, chunk):
            if result.userid is not None:
                sync.removed[result.userid] = result
    if to_add or to_remove:
        sync.listed = await _listed(client, open_kfid)
    return sync


# --- session-level helpers (never commit) -------------------------------------------------


async def list_servicers(session: AsyncSession, account_id: int) -> list[Servicer]:
    """The account's servicers in the admin's order (what routing reads)."""
    query = select(Servicer).where(Servicer.account_id == account_id).order_by(Servicer.position, Servicer.id)
    return list((await session.scalars(query)).all())


def _follow(row: Servicer, info: ServicerInfo | None) -> None:
    if info is None:
        return
    row.status = info.status if info.status in (RECEIVING, STOPPED) else row.status
    row.stop_type = (info.stop_type or 0) if row.status == STOPPED else 0


async def store_servicers(
    session: AsyncSession,
    account: KfAccount,
    wanted: Sequence[ServicerSpec],
    sync: ServicerSync,
    *,
    now: datetime,
) -> list[Servicer]:
    """Write the list as WeCom left it: order, caps and names from `wanted`, presence and status
    from `sync`."""
    account_id = account.id
    rows = {r.userid: r for r in await list_servicers(session, account_id)}
    wanted_ids = {s.userid for s in wanted}
    for userid, gone in rows.items():
        if userid not in wanted_ids:
            await session.delete(gone)
    for position, spec in enumerate(wanted):
        row = rows.get(spec.userid) or Servicer(account_id=account_id, userid=spec.userid, updated_at=now)
        if spec.userid not in rows:
            session.add(row)
        row.position, row.max_sessions, row.name = position, spec.max_sessions, spec.name
        info = sync.listed.get(spec.userid)
        row.in_wecom = info is not None
        refused = sync.added.get(spec.userid)
        row.last_error = None if info is not None else (describe_item(refused) if refused else NOT_LISTED)
        _follow(row, info)
        row.updated_at = now
    await session.flush()
    await _ask_for_dispatch(session, account, now=now)
    return await list_servicers(session, account_id)


async def _ask_for_dispatch(session: AsyncSession, account: KfAccount, *, now: datetime) -> None:
    """The list was written: an added, re-capped or returned servicer may have room for customers
    already waiting, who should not wait for the sweep (up to KEFU_POLL_INTERVAL_S) to find it."""
    await session.run_sync(request_dispatch_for_connection, account.connection_id, now=now)


def in_step(rows: Sequence[Servicer], wanted: Sequence[ServicerSpec]) -> bool:
    """Whether the stored list is `wanted` (same order, caps and names) and WeCom took every one."""
    return [(r.userid, r.max_sessions, r.name, r.in_wecom) for r in rows] == [
        (s.userid, s.max_sessions, s.name, True) for s in wanted
    ]


def apply_servicer_status_event(
    session: Session, account_id: int, userid: str, status_event: int, stop_type: int, now: datetime
) -> Servicer | None:
    """Follow a `servicer_status_change` event (1 = 接待中 → status 0; 2 = 停止接待 → status 1
    with `stop_type`, 1 = 暂时挂起). Returns the row, or None when the userid is not in the
    account's list or the status is unknown (nothing changes then)."""
    if status_event not in (EVENT_RECEIVING, EVENT_STOPPED):
        log.warning("servicer.status_event.unknown", account_id=account_id, status=status_event)
        return None
    row = session.scalar(
        select(Servicer).where(Servicer.account_id == account_id, Servicer.userid == userid).with_for_update()
    )
    if row is None:
        # Added in the WeCom admin since Kefu last read the list: read it again.
        enqueue_servicer_refresh(session, account_id, now=now)
        return None
    if status_event == EVENT_RECEIVING:
        row.status, row.stop_type = RECEIVING, 0
    else:
        row.status, row.stop_type = STOPPED, stop_type
    row.updated_at = now
    return row


# --- operations that own their transactions -----------------------------------------------


async def _account_and_client(rt: Runtime, account_id: int) -> tuple[KfAccount, WeComClient]:
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        connection = await get_connection(session, account.connection_id)
    return account, wecom_client(rt, connection)


def servicers_view(rows: Sequence[Servicer | ServicerSpec]) -> dict[str, Any]:
    """The list as the audit log compares it: userid → position, cap and name."""
    return {
        "servicers": {
            r.userid: {"position": position, "max_sessions": r.max_sessions, "name": r.name}
            for position, r in enumerate(rows)
        }
    }


async def set_servicers(
    rt: Runtime, account_id: int, wanted: Sequence[ServicerSpec], *, actor: str = "cli"
) -> ServicerSync:
    """Make the account's servicers exactly `wanted`, in that order (WeCom first, then the rows
    and their audit event, by `actor`)."""
    userids = [s.userid for s in wanted]
    if len(set(userids)) != len(userids):
        raise Invalid("a servicer is listed more than once")
    account, client = await _account_and_client(rt, account_id)
    with wecom_step(f"setting the servicers of {account.open_kfid} in WeCom"):
        sync = await sync_in_wecom(client, account.open_kfid, wanted)
    async with rt.db.write() as session:
        before = servicers_view(await list_servicers(session, account_id))
        await store_servicers(session, account, wanted, sync, now=rt.clock.now())
        await record(
            session,
            actor=actor,
            action="account.servicers.update",
            target=f"account:{account_id}",
            before=before,
            after=servicers_view(wanted),
            now=rt.clock.now(),
        )
    log.info("servicers.set", account_id=account_id, count=len(wanted), refused=sorted(sync.problems))
    return sync


async def _current_specs(rt: Runtime, account_id: int) -> list[ServicerSpec]:
    async with rt.db.read() as session:
        return [
            ServicerSpec(r.userid, r.max_sessions, r.name) for r in await list_servicers(session, account_id)
        ]


async def add_servicers(
    rt: Runtime, account_id: int, specs: Sequence[ServicerSpec], *, actor: str = "cli"
) -> ServicerSync:
    """Add servicers at the end of the list; one already listed keeps its place and takes the
    spec's cap and name (re-cap, rename, or re-try in WeCom). The others stay."""
    current = {s.userid: s for s in await _current_specs(rt, account_id)}
    for spec in specs:
        current[spec.userid] = spec
    return await set_servicers(rt, account_id, list(current.values()), actor=actor)


async def remove_servicers(
    rt: Runtime, account_id: int, userids: Sequence[str], *, actor: str = "cli"
) -> ServicerSync:
    current = await _current_specs(rt, account_id)
    wanted = [s for s in current if s.userid not in set(userids)]
    return await set_servicers(rt, account_id, wanted, actor=actor)


async def refresh_servicers(rt: Runtime, account_id: int) -> list[Servicer]:
    """Re-read kf/servicer/list: statuses, and who is in WeCom's list. Servicers added in the
    WeCom admin join the end of Kefu's list; ones removed there are marked not in WeCom."""
    account, client = await _account_and_client(rt, account_id)
    with wecom_step(f"reading the servicers of {account.open_kfid} from WeCom"):
        listed = await _listed(client, account.open_kfid)
    now = rt.clock.now()
    async with rt.db.write() as session:
        rows = await list_servicers(session, account_id)
        known = {r.userid for r in rows}
        position = max((r.position for r in rows), default=-1)
        for userid in listed:
            if userid not in known:
                position += 1
                session.add(Servicer(account_id=account_id, userid=userid, position=position, updated_at=now))
        await session.flush()
        rows = await list_servicers(session, account_id)
        for row in rows:
            info = listed.get(row.userid)
            if info is not None:
                row.in_wecom, row.last_error = True, None
                _follow(row, info)
            elif row.in_wecom:
                row.in_wecom, row.last_error = False, NOT_LISTED
            row.updated_at = now
        await _ask_for_dispatch(session, account, now=now)
        return rows
