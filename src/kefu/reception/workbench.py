"""What the servicer workbench lists: the pools of the accounts someone receives for, the human
sessions of a servicer, the conversation records, with each customer's WeChat name and CRM
contact; and binding a conversation's customer to a contact. `account_ids` None: every account
(admins and supervisors)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount, Servicer
from kefu.crm import identity, webhooks
from kefu.crm.identity import BindingEvent
from kefu.crm.models import CrmContact, WechatCustomer
from kefu.ingest.models import Message
from kefu.reception import service
from kefu.reception.attention import awaiting_reply
from kefu.reception.follow_ups import messages_of
from kefu.reception.models import Conversation, FollowUp
from kefu.reception.pool import Waiting, waiting_line
from kefu.routing.core import ServicerLoad
from kefu.settings import Settings


@dataclass(frozen=True)
class Customer:
    """Who a conversation's customer is, as far as Kefu knows."""

    nickname: str
    wechat_customer_id: int | None
    contact: CrmContact | None


async def pools(session: AsyncSession, account_ids: frozenset[int] | None) -> list[Waiting]:
    """Every waiting customer of these accounts, account by account, each pool in queue order."""
    query = select(KfAccount.id).order_by(KfAccount.id)
    if account_ids is not None:
        query = query.where(KfAccount.id.in_(account_ids))
    return [
        w
        for account_id in (await session.scalars(query)).all()
        for w in await waiting_line(session, account_id)
    ]


async def human_sessions(
    session: AsyncSession, *, servicer_userid: str | None, account_ids: frozenset[int] | None
) -> list[Conversation]:
    """Sessions with a servicer or on their way to one (a take or transfer WeCom has not
    confirmed yet: save_state names its servicer already), longest-waiting customer first.
    `servicer_userid` None: everyone's."""
    query = select(Conversation).where(Conversation.servicer_userid.is_not(None))
    if servicer_userid is not None:
        query = query.where(Conversation.servicer_userid == servicer_userid)
    if account_ids is not None:
        query = query.where(Conversation.account_id.in_(account_ids))
    query = query.order_by(Conversation.awaiting_reply_since.is_(None), Conversation.awaiting_reply_since)
    return list((await session.scalars(query.order_by(Conversation.id))).all())


async def conversations(
    session: AsyncSession, *, account_ids: frozenset[int] | None, limit: int = 50, offset: int = 0
) -> list[Conversation]:
    """Conversation records, most recently active first."""
    query = select(Conversation)
    if account_ids is not None:
        query = query.where(Conversation.account_id.in_(account_ids))
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def customers_of(session: AsyncSession, rows: Iterable[Conversation]) -> dict[int, Customer]:
    """Each conversation's customer: WeChat nickname and bound contact (conversation id → Customer)."""
    rows = list(rows)
    if not rows:
        return {}
    connection_of = dict(
        (
            await session.execute(
                select(KfAccount.id, KfAccount.connection_id).where(
                    KfAccount.id.in_({row.account_id for row in rows})
                )
            )
        ).all()
    )
    found = await session.execute(
        select(WechatCustomer, CrmContact)
        .outerjoin(CrmContact, CrmContact.id == WechatCustomer.contact_id)
        .where(WechatCustomer.external_userid.in_({row.external_userid for row in rows}))
    )
    by_key: dict[tuple[int | None, str], tuple[WechatCustomer | None, CrmContact | None]] = {
        (w.connection_id, w.external_userid): (w, c) for w, c in found.all()
    }
    customers = {}
    for row in rows:
        wechat, contact = by_key.get((connection_of.get(row.account_id), row.external_userid), (None, None))
        customers[row.id] = Customer(
            nickname=wechat.nickname if wechat is not None else "",
            wechat_customer_id=wechat.id if wechat is not None else None,
            contact=contact,
        )
    return customers


async def servicers_of(session: AsyncSession, account_id: int) -> list[str]:
    """The account's servicers (userids) in their list order: whom a session may go to."""
    query = select(Servicer.userid).where(Servicer.account_id == account_id).order_by(Servicer.position)
    return list((await session.scalars(query)).all())


async def loads_of(session: AsyncSession, conversation: Conversation) -> dict[str, ServicerLoad]:
    """The account's servicers as routing sees them now (receiving or not, their sessions, their
    cap): what a hand-over to each would meet. Any conversation of the account stands for it."""

    def read(sync: Session) -> dict[str, ServicerLoad]:
        account = sync.get(KfAccount, conversation.account_id)
        assert account is not None  # conversations cascade with their account
        roster = service.roster(sync, account, service.account_settings(sync, account), conversation)
        return {load.userid: load for load in roster.servicers}

    return await session.run_sync(read)


async def bind_customer(
    session: AsyncSession,
    settings: Settings,
    conversation: Conversation,
    contact_id: int,
    *,
    by: str,
    now: datetime,
) -> BindingEvent | None:
    """Bind the conversation's customer to the contact (the customer's row is made when Kefu has
    not yet read who they are); the CRM's rules apply (bound elsewhere: unbind first) and its
    webhook is told, as when the API binds."""
    account = await session.get(KfAccount, conversation.account_id)
    assert account is not None  # conversations cascade with their account
    wechat = await identity.note_wechat_customer(
        session, account.connection_id, conversation.external_userid, now=now
    )
    event = await identity.bind(session, wechat.id, contact_id, by=by, now=now)
    await webhooks.emit_binding(session, settings, event)
    return event


async def follow_ups_of(
    session: AsyncSession, account_ids: frozenset[int] | None, *, status: str
) -> list[tuple[FollowUp, list[Message]]]:
    """留言 of these accounts with what the customer wrote, oldest first."""
    query = select(FollowUp).where(FollowUp.status == status)
    if account_ids is not None:
        query = query.where(FollowUp.account_id.in_(account_ids))
    rows = (await session.scalars(query.order_by(FollowUp.opened_at, FollowUp.id))).all()
    return [(row, await messages_of(session, row)) for row in rows]


async def awaiting_replies(
    session: AsyncSession,
    account_ids: frozenset[int] | None,
    *,
    servicer_userid: str | None,
    since_before: datetime,
) -> list[Conversation]:
    """Human sessions whose customer has waited for the servicer's word since before then,
    longest first (the API's per-account list, across accounts; one servicer's or everyone's)."""
    query = select(KfAccount.id).order_by(KfAccount.id)
    if account_ids is not None:
        query = query.where(KfAccount.id.in_(account_ids))
    rows = [
        row
        for account_id in (await session.scalars(query)).all()
        for row in await awaiting_reply(session, account_id, since_before=since_before)
        if servicer_userid is None or row.servicer_userid == servicer_userid
    ]
    return sorted(rows, key=lambda row: (row.awaiting_reply_since or since_before, row.id))
