"""REST: /api/v1/crm — customers, contacts (CRUD, search, upsert by external id, CSV import),
WeChat customers and their binding to a contact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.service import get_connection
from kefu.ai.kb_csv import RowError
from kefu.api.auth import api_actor, require_token
from kefu.api.body_limit import MAX_IMPORT_BYTES
from kefu.api.deps import IdField, IdPath, IdQuery, OffsetQuery, RuntimeDep, TokenDep
from kefu.api.routes import ApiRoute
from kefu.crm import identity, service, webhooks
from kefu.crm.csv_import import Counts, import_files
from kefu.crm.models import CrmContact, CrmCustomer
from kefu.crm.schemas import (
    BindIn,
    BindingOut,
    ContactIn,
    ContactOut,
    CustomerIn,
    CustomerOut,
    WechatCustomerOut,
)
from kefu.errors import Invalid

router = APIRouter(prefix="/crm", tags=["crm"], route_class=ApiRoute, dependencies=[Depends(require_token)])
Search = Annotated[str | None, Query(max_length=200, description="part of name, phone or email")]
Tag = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]
ExternalId = Annotated[str, Field(min_length=1, max_length=64)]


async def _contacts_out(session: AsyncSession, rows: Sequence[CrmContact]) -> list[ContactOut]:
    """The contacts as answered, each with its effective exclusive servicer (its own, else its
    company's): the companies are read in one query."""
    company_ids = {row.customer_id for row in rows if row.customer_id is not None}
    companies: dict[int, str | None] = {}
    if company_ids:
        query = select(CrmCustomer.id, CrmCustomer.exclusive_userid).where(CrmCustomer.id.in_(company_ids))
        companies = {company: userid for company, userid in (await session.execute(query)).all()}
    out = []
    for row in rows:
        contact = ContactOut.model_validate(row)
        own = contact.exclusive_userid
        contact.effective_exclusive_userid = own or companies.get(row.customer_id or 0)
        out.append(contact)
    return out


async def _contact_out(session: AsyncSession, row: CrmContact) -> ContactOut:
    return (await _contacts_out(session, [row]))[0]


# --- customers ---------------------------------------------------------------------------------


@router.get("/customers", response_model=list[CustomerOut])
async def list_customers(
    rt: RuntimeDep, q: Search = None, tag: Tag = None, limit: Limit = 100, offset: OffsetQuery = 0
) -> list[CustomerOut]:
    async with rt.db.read() as session:
        rows = await service.search_customers(session, q=q, tag=tag, limit=limit, offset=offset)
    return [CustomerOut.model_validate(row) for row in rows]


@router.post("/customers", response_model=CustomerOut, status_code=201)
async def create_customer(body: CustomerIn, rt: RuntimeDep, token: TokenDep) -> CustomerOut:
    async with rt.db.write() as session:
        row = await service.save_customer(session, body, now=rt.clock.now(), actor=api_actor(token))
    return CustomerOut.model_validate(row)


@router.put("/customers/by-external-id/{external_id}", response_model=CustomerOut)
async def upsert_customer(
    external_id: str, body: CustomerIn, rt: RuntimeDep, response: Response, token: TokenDep
) -> CustomerOut:
    """Create or replace the customer your CRM knows as `external_id` (201 when created).
    Sending the same card again changes nothing."""
    _check_external_id(external_id)
    async with rt.db.write() as session:
        row, done = await service.upsert_customer(
            session, external_id, body, now=rt.clock.now(), actor=api_actor(token)
        )
    response.status_code = 201 if done == "created" else 200
    return CustomerOut.model_validate(row)


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: IdPath, rt: RuntimeDep) -> CustomerOut:
    async with rt.db.read() as session:
        return CustomerOut.model_validate(await service.get_customer(session, customer_id))


@router.put("/customers/{customer_id}", response_model=CustomerOut)
async def put_customer(customer_id: IdPath, body: CustomerIn, rt: RuntimeDep, token: TokenDep) -> CustomerOut:
    async with rt.db.write() as session:
        row = await service.save_customer(
            session, body, now=rt.clock.now(), customer_id=customer_id, actor=api_actor(token)
        )
    return CustomerOut.model_validate(row)


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(customer_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    """Its contacts stay, without a company."""
    async with rt.db.write() as session:
        await service.delete_customer(session, customer_id, actor=api_actor(token), now=rt.clock.now())
    return Response(status_code=204)


# --- contacts ----------------------------------------------------------------------------------


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(
    rt: RuntimeDep,
    q: Search = None,
    tag: Tag = None,
    customer_id: IdQuery = None,
    limit: Limit = 100,
    offset: OffsetQuery = 0,
) -> list[ContactOut]:
    async with rt.db.read() as session:
        rows = await service.search_contacts(
            session, q=q, tag=tag, customer_id=customer_id, limit=limit, offset=offset
        )
        return await _contacts_out(session, rows)


@router.post("/contacts", response_model=ContactOut, status_code=201)
async def create_contact(body: ContactIn, rt: RuntimeDep, token: TokenDep) -> ContactOut:
    async with rt.db.write() as session:
        row = await service.save_contact(session, body, now=rt.clock.now(), actor=api_actor(token))
        return await _contact_out(session, row)


@router.put("/contacts/by-external-id/{external_id}", response_model=ContactOut)
async def upsert_contact(
    external_id: str, body: ContactIn, rt: RuntimeDep, response: Response, token: TokenDep
) -> ContactOut:
    """Create or replace the contact your CRM knows as `external_id` (201 when created)."""
    _check_external_id(external_id)
    async with rt.db.write() as session:
        row, done = await service.upsert_contact(
            session, external_id, body, now=rt.clock.now(), actor=api_actor(token)
        )
        response.status_code = 201 if done == "created" else 200
        return await _contact_out(session, row)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: IdPath, rt: RuntimeDep) -> ContactOut:
    async with rt.db.read() as session:
        return await _contact_out(session, await service.get_contact(session, contact_id))


@router.put("/contacts/{contact_id}", response_model=ContactOut)
async def put_contact(contact_id: IdPath, body: ContactIn, rt: RuntimeDep, token: TokenDep) -> ContactOut:
    async with rt.db.write() as session:
        row = await service.save_contact(
            session, body, now=rt.clock.now(), contact_id=contact_id, actor=api_actor(token)
        )
        return await _contact_out(session, row)


@router.delete("/contacts/{contact_id}", status_code=204)
async def delete_contact(contact_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    """Its WeChat customers are unbound first (recorded and told as any unbinding)."""
    async with rt.db.write() as session:
        await service.get_contact(session, contact_id)
        by = f"token:{token.name}"
        for event in await identity.unbind_contact(session, contact_id, by=by, now=rt.clock.now()):
            await webhooks.emit_binding(session, rt.settings, event)
        await service.delete_contact(session, contact_id, actor=api_actor(token), now=rt.clock.now())
    return Response(status_code=204)


def _check_external_id(external_id: str) -> None:
    if not 1 <= len(external_id) <= 64:
        raise Invalid("external_id must be 1–64 characters")


# --- import ------------------------------------------------------------------------------------


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[RowError]


async def _import(request: Request, rt: RuntimeDep, kind: str, actor: str) -> ImportOut:
    data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    files = {"customers": None, "contacts": None} | {kind: data}
    async with rt.db.write() as session:
        result = await import_files(session, **files, now=rt.clock.now(), actor=actor)
    counts: Counts = getattr(result, kind)
    errors = result.customer_errors if kind == "customers" else result.contact_errors
    return ImportOut(
        created=counts.created, updated=counts.updated, unchanged=counts.unchanged, errors=errors
    )


@router.post("/import/customers", response_model=ImportOut)
async def import_customers(request: Request, rt: RuntimeDep, token: TokenDep) -> ImportOut:
    """The body is the CSV file: external_id,name[,phone,email,tags,notes,exclusive_userid,…];
    other columns become custom fields. Good rows are kept, each bad one reported by line."""
    return await _import(request, rt, "customers", api_actor(token))


@router.post("/import/contacts", response_model=ImportOut)
async def import_contacts(request: Request, rt: RuntimeDep, token: TokenDep) -> ImportOut:
    """The body is the CSV file: external_id,name[,customer_external_id,phone,email,tags,notes,
    exclusive_userid,unionid,…]. Import the customers first."""
    return await _import(request, rt, "contacts", api_actor(token))


# --- WeChat customers and binding --------------------------------------------------------------


class WechatCustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: IdField
    external_userid: ExternalId


@router.get("/wechat-customers", response_model=list[WechatCustomerOut])
async def list_wechat_customers(
    rt: RuntimeDep,
    connection_id: IdQuery = None,
    contact_id: IdQuery = None,
    unbound: bool = False,
    limit: Limit = 100,
    offset: OffsetQuery = 0,
) -> list[WechatCustomerOut]:
    """Newest first; `unbound=true`: those not bound to a contact yet, for follow-up."""
    async with rt.db.read() as session:
        rows = await identity.wechat_customers(
            session,
            connection_id=connection_id,
            contact_id=contact_id,
            unbound=unbound,
            limit=limit,
            offset=offset,
        )
    return [WechatCustomerOut.model_validate(row) for row in rows]


@router.post("/wechat-customers", response_model=WechatCustomerOut)
async def note_wechat_customer(body: WechatCustomerIn, rt: RuntimeDep) -> WechatCustomerOut:
    """The WeChat customer's record (created if Kefu has not seen them yet), e.g. to bind them
    before their first message."""
    async with rt.db.write() as session:
        await get_connection(session, body.connection_id)
        found = await identity.find_wechat_customer(session, body.connection_id, body.external_userid)
        row = found or await identity.note_wechat_customer(
            session, body.connection_id, body.external_userid, now=rt.clock.now()
        )
        return WechatCustomerOut.model_validate(row)


@router.get("/wechat-customers/{wechat_customer_id}", response_model=WechatCustomerOut)
async def get_wechat_customer(wechat_customer_id: IdPath, rt: RuntimeDep) -> WechatCustomerOut:
    async with rt.db.read() as session:
        return WechatCustomerOut.model_validate(
            await identity.get_wechat_customer(session, wechat_customer_id)
        )


@router.get("/wechat-customers/{wechat_customer_id}/bindings", response_model=list[BindingOut])
async def list_bindings(wechat_customer_id: IdPath, rt: RuntimeDep) -> list[BindingOut]:
    """Every bind and unbind, oldest first: who and when."""
    async with rt.db.read() as session:
        await identity.get_wechat_customer(session, wechat_customer_id)
        return [
            BindingOut.model_validate(row) for row in await identity.bindings_of(session, wechat_customer_id)
        ]


@router.put("/wechat-customers/{wechat_customer_id}/contact", response_model=WechatCustomerOut)
async def bind(
    wechat_customer_id: IdPath, body: BindIn, rt: RuntimeDep, token: TokenDep
) -> WechatCustomerOut:
    """Bind to the contact (409 when bound to another: unbind first)."""
    async with rt.db.write() as session:
        now = rt.clock.now()
        event = await identity.bind(
            session, wechat_customer_id, body.contact_id, by=f"token:{token.name}", now=now
        )
        await webhooks.emit_binding(session, rt.settings, event)
        return WechatCustomerOut.model_validate(
            await identity.get_wechat_customer(session, wechat_customer_id)
        )


@router.delete("/wechat-customers/{wechat_customer_id}/contact", status_code=204)
async def unbind(wechat_customer_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    async with rt.db.write() as session:
        now = rt.clock.now()
        event = await identity.unbind(session, wechat_customer_id, by=f"token:{token.name}", now=now)
        await webhooks.emit_binding(session, rt.settings, event)
    return Response(status_code=204)
