"""WeChat customers and who they are: binding to a contact (by hand or by unionid), the binding
history, the unbound list, and the exclusive servicer routing reads. Helpers take the caller's
session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.crm.models import CrmBinding, CrmContact, CrmCustomer, WechatCustomer
from kefu.crm.service import get_contact
from kefu.db import get_row
from kefu.errors import Conflict, NotFound


@dataclass(frozen=True)
class BindingEvent:
    """A bind or unbind that happened: what the outgoing webhook tells."""

    action: str  # bind | unbind
    wechat_customer_id: int
    connection_id: int
    external_userid: str
    contact_id: int
    by: str
    at: datetime

    def payload(self) -> dict[str, object]:
        return {
            "wechat_customer_id": self.wechat_customer_id,
            "connection_id": self.connection_id,
            "external_userid": self.external_userid,
            "contact_id": self.contact_id,
            "by": self.by,
            "at": self.at.isoformat(),
        }


def exclusive_servicer(session: Session, connection_id: int, external_userid: str) -> str | None:
    """The 专属客服 of a WeChat customer: their contact's, else its company's (one query).
    Synchronous (routing reads it in a decision's unit of work): `session.run_sync` from async code."""
    found = exclusive_servicers(session, connection_id, [external_userid])
    return found.get(external_userid)


def exclusive_servicers(session: Session, connection_id: int, external_userids: list[str]) -> dict[str, str]:
    """`exclusive_servicer` for many customers at once (dispatch reads its whole queue)."""
    if not external_userids:
        return {}
    userid = func.coalesce(CrmContact.exclusive_userid, CrmCustomer.exclusive_userid)
    query = (
        select(WechatCustomer.external_userid, userid)
        .join(CrmContact, CrmContact.id == WechatCustomer.contact_id)
        .outerjoin(CrmCustomer, CrmCustomer.id == CrmContact.customer_id)
        .where(
            WechatCustomer.connection_id == connection_id,
            WechatCustomer.external_userid.in_(external_userids),
            userid.is_not(None),
        )
    )
    return {external: servicer for external, servicer in session.execute(query).all()}


async def find_wechat_customer(
    session: AsyncSession, connection_id: int, external_userid: str
) -> WechatCustomer | None:
    return await session.scalar(
        select(WechatCustomer).where(
            WechatCustomer.connection_id == connection_id, WechatCustomer.external_userid == external_userid
        )
    )


async def get_wechat_customer(session: AsyncSession, wechat_customer_id: int) -> WechatCustomer:
    return await get_row(session, WechatCustomer, wechat_customer_id, "WeChat customer")


async def note_wechat_customer(
    session: AsyncSession,
    connection_id: int,
    external_userid: str,
    *,
    now: datetime,
    nickname: str | None = None,
    avatar: str | None = None,
    unionid: str | None = None,
    fetched: bool = False,
) -> WechatCustomer:
    """The customer's row, created when first seen; what `kf/customer/batchget` said, kept."""
    row = await find_wechat_customer(session, connection_id, external_userid)
    if row is None:
        row = WechatCustomer(
            connection_id=connection_id, external_userid=external_userid, created_at=now, updated_at=now
        )
        session.add(row)
    if nickname is not None:
        row.nickname = nickname[:200]
    if avatar is not None:
        row.avatar = avatar[:500]
    if unionid:
        row.unionid = unionid
    if fetched:
        row.fetched_at = now
    row.updated_at = now
    await session.flush()
    return row


async def bind(
    session: AsyncSession, wechat_customer_id: int, contact_id: int, *, by: str, now: datetime
) -> BindingEvent | None:
    """Bind the WeChat customer to the contact (a customer has at most one contact); None when
    it already was. Bound elsewhere: unbind first (a silent move would lose who decided it)."""
    customer = await get_wechat_customer(session, wechat_customer_id)
    contact = await get_contact(session, contact_id)
    if customer.contact_id == contact_id:
        return None
    if customer.contact_id is not None:
        bound = await get_contact(session, customer.contact_id)
        raise Conflict(
            f"WeChat customer {wechat_customer_id} is bound to contact {bound.id}; unbind it first",
            "bound_elsewhere",
            {"contact_id": bound.id, "contact_name": bound.name},
        )
    customer.contact_id, customer.updated_at = contact_id, now
    return _record(session, customer, contact, "bind", by, now)


async def unbind(session: AsyncSession, wechat_customer_id: int, *, by: str, now: datetime) -> BindingEvent:
    customer = await get_wechat_customer(session, wechat_customer_id)
    if customer.contact_id is None:
        raise NotFound(f"WeChat customer {wechat_customer_id} is not bound to a contact")
    contact = await get_contact(session, customer.contact_id)
    customer.contact_id, customer.updated_at = None, now
    return _record(session, customer, contact, "unbind", by, now)


async def unbind_contact(
    session: AsyncSession, contact_id: int, *, by: str, now: datetime
) -> list[BindingEvent]:
    """Unbind every WeChat customer of a contact about to be deleted, so the history and the
    webhook say so (the foreign key alone would unbind them silently)."""
    bound = await session.scalars(select(WechatCustomer.id).where(WechatCustomer.contact_id == contact_id))
    return [await unbind(session, wechat_id, by=by, now=now) for wechat_id in bound.all()]


def _record(
    session: AsyncSession, customer: WechatCustomer, contact: CrmContact, action: str, by: str, now: datetime
) -> BindingEvent:
    session.add(
        CrmBinding(
            wechat_customer_id=customer.id,
            contact_id=contact.id,
            contact_name=contact.name,
            action=action,
            by=by[:100],
            at=now,
        )
    )
    return BindingEvent(
        action=action,
        wechat_customer_id=customer.id,
        connection_id=customer.connection_id,
        external_userid=customer.external_userid,
        contact_id=contact.id,
        by=by,
        at=now,
    )


async def bind_by_unionid(
    session: AsyncSession, customer: WechatCustomer, *, now: datetime
) -> BindingEvent | None:
    """Bind an unbound customer to the one contact with the same unionid. Two contacts with it
    is the CRM's ambiguity, not ours to settle: nothing is bound."""
    if customer.contact_id is not None or not customer.unionid:
        return None
    matches = (
        await session.scalars(select(CrmContact.id).where(CrmContact.unionid == customer.unionid).limit(2))
    ).all()
    if len(matches) != 1:
        return None
    return await bind(session, customer.id, matches[0], by="unionid", now=now)


async def bindings_of(session: AsyncSession, wechat_customer_id: int) -> list[CrmBinding]:
    query = (
        select(CrmBinding).where(CrmBinding.wechat_customer_id == wechat_customer_id).order_by(CrmBinding.id)
    )
    return list((await session.scalars(query)).all())


async def wechat_customers(
    session: AsyncSession,
    *,
    connection_id: int | None = None,
    contact_id: int | None = None,
    unbound: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[WechatCustomer]:
    """WeChat customers, newest first; `unbound`: those no contact claims yet (for follow-up)."""
    where = []
    if connection_id is not None:
        where.append(WechatCustomer.connection_id == connection_id)
    if contact_id is not None:
        where.append(WechatCustomer.contact_id == contact_id)
    if unbound:
        where.append(WechatCustomer.contact_id.is_(None))
    query = select(WechatCustomer).where(*where).order_by(WechatCustomer.id.desc())
    return list((await session.scalars(query.limit(min(limit, 500)).offset(offset))).all())
