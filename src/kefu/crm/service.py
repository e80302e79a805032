"""Customers and contacts: create, change, delete, search, and upsert by external id.
Helpers take the caller's session and never commit.

A card's exclusive servicer (专属客服) must be a servicer Kefu knows — in the servicer list of
an account of a connection (corp) the card's WeChat customers are on (a company's: its contacts'),
or of any connection while none is bound — else routing's `exclusive` rule would never match
it. Only a value that changes is checked: a servicer later removed from the list stays on the
cards that name them (routing passes over them as over anyone not receiving), and those cards
can still be edited. So are a phone and an email (schemas.check_formats): a card saved before
they were checked keeps what it holds until someone changes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount, Servicer
from kefu.audit.log import record
from kefu.crm.models import CrmContact, CrmCustomer, WechatCustomer
from kefu.crm.schemas import ContactIn, CustomerIn, check_formats
from kefu.errors import Conflict, Invalid, NotFound

Card = TypeVar("Card", CrmCustomer, CrmContact)
Upserted = Literal["created", "updated", "unchanged"]
MAX_PAGE = 500


async def get_customer(session: AsyncSession, customer_id: int) -> CrmCustomer:
    return await _card_by_id(session, CrmCustomer, customer_id)


async def get_contact(session: AsyncSession, contact_id: int) -> CrmContact:
    return await _card_by_id(session, CrmContact, contact_id)


def _kind(model: type[Card]) -> str:
    return "customer" if model is CrmCustomer else "contact"


async def _card_by_id(session: AsyncSession, model: type[Card], card_id: int) -> Card:
    """The card, or NotFound coded `customer_not_found` / `contact_not_found` (a card deleted
    while someone had its page open)."""
    row = await session.get(model, card_id)
    if row is None:
        kind = _kind(model)
        raise NotFound(f"no {kind} with id {card_id}", f"{kind}_not_found", {"id": card_id})
    return row


async def _taken(
    session: AsyncSession, model: type[Card], external_id: str | None, own_id: int | None
) -> None:
    if external_id is None:
        return
    other = (
        await session.execute(select(model.id, model.name).where(model.external_id == external_id))
    ).first()
    if other is not None and other.id != own_id:
        raise Conflict(
            f"{_kind(model)} {other.id} already has external_id {external_id!r}",
            "external_id_taken",
            {"external_id": external_id, "id": other.id, "name": other.name},
        )


async def _connections_of(session: AsyncSession, row: CrmCustomer | CrmContact) -> list[int]:
    """The connections of the WeChat customers bound to the contact (to the company's contacts)."""
    if isinstance(row, CrmContact):
        contacts: Any = [row.id]
    else:
        contacts = select(CrmContact.id).where(CrmContact.customer_id == row.id)
    query = select(WechatCustomer.connection_id).where(WechatCustomer.contact_id.in_(contacts))
    return list((await session.scalars(query.distinct())).all())


async def _check_servicer(session: AsyncSession, row: CrmCustomer | CrmContact, userid: str | None) -> None:
    """Refuse (`servicer_unknown`) a new exclusive servicer who is not a servicer of the card's
    connections (any connection while it has none)."""
    if userid is None or userid == row.exclusive_userid:
        return
    connections = await _connections_of(session, row) if row.id else []
    known = select(Servicer.id).join(KfAccount, KfAccount.id == Servicer.account_id)
    known = known.where(Servicer.userid == userid)
    if connections:
        known = known.where(KfAccount.connection_id.in_(connections))
    if await session.scalar(known.limit(1)) is None:
        raise Invalid(
            f"exclusive_userid {userid!r} is not a servicer of "
            + ("the corp(s) this card's WeChat customers are on" if connections else "any account"),
            "servicer_unknown",
            {"userid": userid},
        )


def _fill(row: CrmCustomer | CrmContact, body: CustomerIn | ContactIn, now: datetime) -> None:
    row.external_id, row.name, row.phone, row.email = body.external_id, body.name, body.phone, body.email
    row.tags, row.notes = list(body.tags), body.notes
    row.custom_fields, row.exclusive_userid = dict(body.custom_fields), body.exclusive_userid
    row.updated_at = now


async def _company_of(session: AsyncSession, body: ContactIn) -> int | None:
    if body.customer_id is not None and body.customer_external_id is not None:
        raise Invalid("give customer_id or customer_external_id, not both")
    if body.customer_id is not None:
        return (await get_customer(session, body.customer_id)).id
    if body.customer_external_id is not None:
        found = await session.scalar(
            select(CrmCustomer.id).where(CrmCustomer.external_id == body.customer_external_id)
        )
        if found is None:
            raise NotFound(
                f"no customer with external_id {body.customer_external_id!r}",
                "no_customer",
                {"id": body.customer_external_id},
            )
        return found
    return None


async def _audit(
    session: AsyncSession,
    actor: str | None,
    row: CrmCustomer | CrmContact,
    before: dict[str, object] | None,
    now: datetime,
    *,
    deleted: bool = False,
) -> None:
    """Record a card's change (with an actor: console, API, CLI), in the change's transaction."""
    if actor is None:
        return
    kind = "customer" if isinstance(row, CrmCustomer) else "contact"
    action = "delete" if deleted else ("update" if before is not None else "create")
    await record(
        session,
        actor=actor,
        action=f"crm.{kind}.{action}",
        target=f"crm.{kind}:{row.id}",
        before=before,
        after=None if deleted else card_of(row),
        now=now,
    )


async def save_customer(
    session: AsyncSession,
    body: CustomerIn,
    *,
    now: datetime,
    customer_id: int | None = None,
    actor: str | None = None,
) -> CrmCustomer:
    """Create (no id) or replace the customer's card; audited when an `actor` is given."""
    row = await get_customer(session, customer_id) if customer_id else CrmCustomer(created_at=now)
    before = card_of(row) if customer_id else None
    check_formats(body, before)
    await _taken(session, CrmCustomer, body.external_id, customer_id)
    await _check_servicer(session, row, body.exclusive_userid)
    _fill(row, body, now)
    session.add(row)
    await session.flush()
    await _audit(session, actor, row, before, now)
    return row


async def save_contact(
    session: AsyncSession,
    body: ContactIn,
    *,
    now: datetime,
    contact_id: int | None = None,
    actor: str | None = None,
) -> CrmContact:
    """Create (no id) or replace the contact's card; audited when an `actor` is given."""
    row = await get_contact(session, contact_id) if contact_id else CrmContact(created_at=now)
    before = card_of(row) if contact_id else None
    check_formats(body, before)
    await _taken(session, CrmContact, body.external_id, contact_id)
    await _check_servicer(session, row, body.exclusive_userid)
    row.customer_id = await _company_of(session, body)
    row.unionid = body.unionid
    _fill(row, body, now)
    session.add(row)
    await session.flush()
    await _audit(session, actor, row, before, now)
    return row


async def upsert_customer(
    session: AsyncSession, external_id: str, body: CustomerIn, *, now: datetime, actor: str | None = None
) -> tuple[CrmCustomer, Upserted]:
    """Create or replace the customer keyed by `external_id`. The same body twice leaves the
    row as it was (updated_at included)."""
    body = body.model_copy(update={"external_id": external_id})
    row = await session.scalar(select(CrmCustomer).where(CrmCustomer.external_id == external_id))
    if row is not None and CustomerIn.model_validate(card_of(row)) == body:
        return row, "unchanged"
    saved = await save_customer(session, body, now=now, customer_id=row.id if row else None, actor=actor)
    return saved, "created" if row is None else "updated"


async def upsert_contact(
    session: AsyncSession, external_id: str, body: ContactIn, *, now: datetime, actor: str | None = None
) -> tuple[CrmContact, Upserted]:
    """Create or replace the contact keyed by `external_id`."""
    body = body.model_copy(update={"external_id": external_id})
    row = await session.scalar(select(CrmContact).where(CrmContact.external_id == external_id))
    if row is not None:
        company = await _company_of(session, body)
        same = ContactIn.model_validate(card_of(row)).model_copy(
            update={"customer_id": None, "customer_external_id": None}
        ) == body.model_copy(update={"customer_id": None, "customer_external_id": None})
        if same and company == row.customer_id:
            return row, "unchanged"
    saved = await save_contact(session, body, now=now, contact_id=row.id if row else None, actor=actor)
    return saved, "created" if row is None else "updated"


def card_of(row: CrmCustomer | CrmContact) -> dict[str, object]:
    """The row as the body that would write it (for comparing an upsert with what is stored)."""
    card: dict[str, object] = {
        "external_id": row.external_id,
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "tags": list(row.tags or []),
        "notes": row.notes,
        "custom_fields": dict(row.custom_fields or {}),
        "exclusive_userid": row.exclusive_userid,
    }
    if isinstance(row, CrmContact):
        card |= {"customer_id": row.customer_id, "unionid": row.unionid}
    return card


async def delete_customer(
    session: AsyncSession, customer_id: int, *, actor: str | None = None, now: datetime | None = None
) -> None:
    """Its contacts stay, without a company."""
    row = await get_customer(session, customer_id)
    await _audit(session, actor, row, card_of(row), now or row.updated_at, deleted=True)
    await session.delete(row)


async def delete_contact(
    session: AsyncSession, contact_id: int, *, actor: str | None = None, now: datetime | None = None
) -> None:
    """Its WeChat customers become unbound; the binding history stays."""
    row = await get_contact(session, contact_id)
    await _audit(session, actor, row, card_of(row), now or row.updated_at, deleted=True)
    await session.delete(row)


def _matching(model: type[Card], q: str | None) -> list[Any]:
    if not q:
        return []
    like = f"%{q}%"
    return [
        or_(model.name.ilike(like), model.phone.ilike(like), model.email.ilike(like), model.external_id == q)
    ]


async def search_customers(
    session: AsyncSession, *, q: str | None = None, tag: str | None = None, limit: int = 100, offset: int = 0
) -> list[CrmCustomer]:
    """By a fragment of name, phone or email (or the exact external id); `tag` filters."""
    return await _search(session, CrmCustomer, _matching(CrmCustomer, q), tag, limit, offset)


async def search_contacts(
    session: AsyncSession,
    *,
    q: str | None = None,
    tag: str | None = None,
    customer_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CrmContact]:
    where = _matching(CrmContact, q)
    if customer_id is not None:
        where.append(CrmContact.customer_id == customer_id)
    return await _search(session, CrmContact, where, tag, limit, offset)


async def _search(
    session: AsyncSession, model: type[Card], where: list[Any], tag: str | None, limit: int, offset: int
) -> list[Card]:
    limit = min(limit, MAX_PAGE)
    query = select(model).where(*where).order_by(model.id)
    if tag is None:
        return list((await session.scalars(query.limit(limit).offset(offset))).all())
    # Tags are a JSON list: filtered here, which reads the same on SQLite and PostgreSQL.
    rows = [row for row in (await session.scalars(query)).all() if tag in (row.tags or [])]
    return rows[offset : offset + limit]
