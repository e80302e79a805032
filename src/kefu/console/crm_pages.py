"""客户管理: 客户 (companies) and 联系人 (people) — list and search, a card's page (a customer's
contacts; a contact's bound WeChat customers and their conversations), create, edit, delete
and CSV import (bad rows reported by line, good rows kept; the result shown after a redirect, as
the knowledge base's), through kefu.crm's services, which audit each change. Every refusal
shows in the reader's language: the card form's (its schema's `card_problems`, the service's
coded DomainErrors) as `crm.card.problem.<code>`, csv_import's as `crm.problem.<code>`.

Both kinds share one set of handlers, registered once per kind at its own paths (the menu's
/console/crm/customers and /console/crm/contacts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData

from kefu.ai.kb_csv import RowError
from kefu.api.body_limit import MAX_IMPORT_BYTES
from kefu.api.deps import IdPath
from kefu.api.notices import leave_notice, read_notice
from kefu.api.users import real_now
from kefu.console.form_body import take_upload
from kefu.console.i18n import problem_words
from kefu.console.menu import MANAGERS
from kefu.console.web import Viewer, console_actor, form, redirect, refusal_words, render, role, runtime_of
from kefu.crm import service
from kefu.crm.csv_import import CONTACT_COLUMNS, CUSTOMER_COLUMNS, CrmImport, import_files
from kefu.crm.identity import wechat_customers
from kefu.crm.models import CrmContact, CrmCustomer
from kefu.crm.schemas import CardInvalid, ContactIn, CustomerIn, card_problems
from kefu.db.base import MAX_ID
from kefu.errors import DomainError, Invalid, NotFound
from kefu.reception.customer_conversations import conversations_of

router = APIRouter(include_in_schema=False)
Manager = Annotated[Viewer, Depends(role(*MANAGERS))]
PAGE_SIZE = 30
CARD_FIELDS = ("external_id", "name", "phone", "email", "tags", "notes", "exclusive_userid")
CONTACT_FIELDS = (*CARD_FIELDS, "customer_external_id", "unionid")
KINDS = ("customers", "contacts")
IMPORT_RESULT = TypeAdapter(CrmImport)  # an import's result, kept as JSON for the page after it


def _fields(kind: str) -> tuple[str, ...]:
    return CARD_FIELDS if kind == "customers" else CONTACT_FIELDS


def _values_of(row: CrmCustomer | CrmContact, company: CrmCustomer | None) -> dict[str, str]:
    values = {name: str(getattr(row, name) or "") for name in CARD_FIELDS}
    values["tags"] = ", ".join(row.tags or [])
    if isinstance(row, CrmContact):
        values["unionid"] = row.unionid or ""
        values["customer_external_id"] = (company.external_id or "") if company else ""
    return values


def _body(kind: str, values: dict[str, str], custom_fields: dict[str, Any]) -> CustomerIn | ContactIn:
    """The card the form describes; empty optional fields are absent (None), as in the API."""
    data: dict[str, Any] = {k: v for k, v in values.items() if v or k in ("name", "phone", "email", "notes")}
    tags = values.get("tags", "").replace("，", ",").replace("|", ",")
    data["tags"] = [tag.strip() for tag in tags.split(",") if tag.strip()]
    data["custom_fields"] = custom_fields
    model = CustomerIn if kind == "customers" else ContactIn
    return model.model_validate(data)


# The field beside which a service's refusal of a card shows (by its problem code).
FIELD_OF_PROBLEM = {
    "external_id_taken": "external_id",
    "no_customer": "customer_external_id",
    "servicer_unknown": "exclusive_userid",
}


def _card_words(viewer: Viewer, problem: str, values: Mapping[str, object], reason: str) -> str:
    """A card form's refusal in the reader's language (`crm.card.problem.<code>`)."""
    return problem_words(viewer.t, "crm.card", problem, values, reason)


def _refused(request: Request, viewer: Viewer, exc: DomainError) -> Response:
    """The error page for a refusal that leaves no form to show (a card deleted meanwhile)."""
    words = refusal_words(viewer, "crm.card", exc)
    return render(request, "error.html", exc.status_code, message=words)


async def _company(session: Any, row: CrmCustomer | CrmContact) -> CrmCustomer | None:
    if isinstance(row, CrmContact) and row.customer_id is not None:
        return await service.get_customer(session, row.customer_id)
    return None


async def _get(session: Any, kind: str, card_id: int) -> CrmCustomer | CrmContact:
    if kind == "customers":
        return await service.get_customer(session, card_id)
    return await service.get_contact(session, card_id)


async def _list_page(
    request: Request, kind: str, q: str = "", page: int = 1, status: int = 200, **context: Any
) -> Response:
    search = service.search_customers if kind == "customers" else service.search_contacts
    async with runtime_of(request).db.read() as session:
        # One row more than a page tells whether there is a next one.
        rows = await search(session, q=q or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    columns = CUSTOMER_COLUMNS if kind == "customers" else CONTACT_COLUMNS
    t = request.state.viewer.t

    def row_reason(error: RowError) -> str:
        return problem_words(t, "crm", error.problem, error.values, error.reason)

    return render(
        request,
        "crm_list.html",
        status,
        kind=kind,
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        q=q,
        page=page,
        columns=columns,
        row_reason=row_reason,
        **context,
    )


async def _card_page(
    request: Request, kind: str, row: CrmCustomer | CrmContact | None, status: int = 200, **context: Any
) -> Response:
    related: dict[str, Any] = {}
    async with runtime_of(request).db.read() as session:
        if row is not None:
            context.setdefault("values", _values_of(row, await _company(session, row)))
            if isinstance(row, CrmCustomer):
                related["contacts"] = await service.search_contacts(session, customer_id=row.id)
            else:
                related["company"] = await _company(session, row)
                related["wechat"] = await wechat_customers(session, contact_id=row.id)
                related["conversations"] = await conversations_of(session, related["wechat"])
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request, "crm_card.html", status, kind=kind, row=row, fields=_fields(kind), **related, **context
    )


def _submitted(data: FormData, kind: str) -> dict[str, str]:
    return {name: str(data.get(name) or "").strip() for name in _fields(kind)}


async def _save(request: Request, kind: str, viewer: Viewer, card_id: int | None) -> Response:
    data = await form(request, viewer)
    values = _submitted(data, kind)
    rt = runtime_of(request)
    row: CrmCustomer | CrmContact | None = None
    try:
        async with rt.db.write() as session:
            row = await _get(session, kind, card_id) if card_id else None
            body = _body(kind, values, dict(row.custom_fields or {}) if row else {})
            now, actor = rt.clock.now(), console_actor(viewer)
            if isinstance(body, ContactIn):
                saved: CrmCustomer | CrmContact = await service.save_contact(
                    session, body, now=now, contact_id=card_id, actor=actor
                )
            else:
                saved = await service.save_customer(session, body, now=now, customer_id=card_id, actor=actor)
            saved_id = saved.id
    except (ValidationError, CardInvalid) as exc:
        problems = exc.problems if isinstance(exc, CardInvalid) else card_problems(exc)
        errors = {p.field: _card_words(viewer, p.problem, p.values, p.reason) for p in reversed(problems)}
    except DomainError as exc:
        if exc.status_code == 404 and row is None and card_id:
            return _refused(request, viewer, exc)  # the card itself is gone
        field = FIELD_OF_PROBLEM.get(exc.problem, "name")
        errors = {field: refusal_words(viewer, "crm.card", exc)}
    else:
        return redirect(f"/console/crm/{kind}/{saved_id}?saved=1")
    # The rolled-back transaction expired the card it read: read it again to show the form.
    async with rt.db.read() as session:
        row = await _get(session, kind, card_id) if card_id else None
    return await _card_page(request, kind, row, 422, values=values, errors=errors)


async def _import(request: Request, kind: str, viewer: Viewer) -> Response:
    data = await form(request, viewer, files=["file"])
    upload = await take_upload(data, "file")
    content = upload.content if upload else b""
    if not content or len(content) > MAX_IMPORT_BYTES:
        message = viewer.t("crm.import_empty") if not content else viewer.t("crm.import_too_big")
        return await _list_page(request, kind, status=422, import_error=message)
    rt = runtime_of(request)
    files: dict[str, bytes | None] = {"customers": None, "contacts": None, kind: content}
    try:
        async with rt.db.write() as session:
            result = await import_files(session, **files, now=rt.clock.now(), actor=console_actor(viewer))
            # Post/Redirect/Get, as the knowledge base's import: a reload shows the result again.
            body = IMPORT_RESULT.dump_python(result, mode="json")
            key = await leave_notice(session, viewer.session_id, body, real_now())
    except Invalid as exc:  # the file as a whole is unreadable (CrmCsvError): nothing was imported
        words = refusal_words(viewer, "crm", exc)
        return await _list_page(request, kind, status=422, import_error=words)
    return redirect(f"/console/crm/{kind}?" + urlencode({"imported": key}))


async def _imported(request: Request, kind: str, viewer: Viewer, key: str) -> dict[str, Any]:
    """The import's result for the page its redirect shows (nothing for another session's key)."""
    async with runtime_of(request).db.read() as session:
        body = await read_notice(session, viewer.session_id, key)
    if body is None:
        return {}
    result = IMPORT_RESULT.validate_python(body)
    counts = result.customers if kind == "customers" else result.contacts
    errors = result.customer_errors if kind == "customers" else result.contact_errors
    return {"imported": counts, "import_errors": errors}


def _register(kind: str) -> None:
    base = f"/console/crm/{kind}"

    async def list_page(
        request: Request,
        viewer: Manager,
        q: Annotated[str, Query(max_length=200)] = "",
        page: Annotated[int, Query(ge=1, le=MAX_ID // PAGE_SIZE)] = 1,
        imported: Annotated[str, Query(max_length=32)] = "",
    ) -> Response:
        result = await _imported(request, kind, viewer, imported) if imported else {}
        return await _list_page(request, kind, q.strip(), page, **result)

    async def new_page(request: Request, viewer: Manager) -> Response:
        return await _card_page(request, kind, None)

    async def card_page(request: Request, card_id: IdPath, viewer: Manager) -> Response:
        try:
            async with runtime_of(request).db.read() as session:
                row = await _get(session, kind, card_id)
        except NotFound as exc:
            return _refused(request, viewer, exc)
        return await _card_page(request, kind, row)

    async def create(request: Request, viewer: Manager) -> Response:
        return await _save(request, kind, viewer, None)

    async def update(request: Request, card_id: IdPath, viewer: Manager) -> Response:
        return await _save(request, kind, viewer, card_id)

    async def delete(request: Request, card_id: IdPath, viewer: Manager) -> Response:
        await form(request, viewer)
        rt = runtime_of(request)
        remove = service.delete_customer if kind == "customers" else service.delete_contact
        try:
            async with rt.db.write() as session:
                await remove(session, card_id, actor=console_actor(viewer), now=rt.clock.now())
        except NotFound as exc:
            return _refused(request, viewer, exc)
        return redirect(f"{base}?deleted=1")

    async def import_(request: Request, viewer: Manager) -> Response:
        return await _import(request, kind, viewer)

    handlers: list[tuple[str, str, Callable[..., Awaitable[Response]]]] = [
        ("GET", base, list_page),
        ("GET", f"{base}/new", new_page),
        ("POST", f"{base}/import", import_),
        ("POST", base, create),
        ("GET", f"{base}/{{card_id}}", card_page),
        ("POST", f"{base}/{{card_id}}", update),
        ("POST", f"{base}/{{card_id}}/delete", delete),
    ]
    for method, path, handler in handlers:
        router.add_api_route(path, handler, methods=[method], name=f"crm_{kind}_{handler.__name__}")


for _kind in KINDS:
    _register(_kind)
