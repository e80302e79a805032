"""启用与接入: WeCom connections (admins only) — list, 新建接入, edit, 测试连接, disable, delete.

Every change goes through kefu.accounts.connection_ops (the same functions as the REST API and
`kefu connections`), which validates, checks against WeCom, seals the secrets and records the
audit event in the change's own transaction. Secrets are never shown again in full: the edit
form leaves them blank, and a blank field keeps the stored value."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kefu.accounts import connection_ops, kf_accounts, service
from kefu.accounts.check import ConnectionCheck
from kefu.accounts.schemas import connection_out
from kefu.api.deps import IdPath
from kefu.console.menu import ADMIN
from kefu.console.web import Viewer, form, redirect, refusal_words, render, role, runtime_of
from kefu.errors import DomainError

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(role(*ADMIN))]
FIELDS = ("name", "corp_id", "secret", "callback_token", "aes_key")
SECRET_FIELDS = ("secret", "callback_token", "aes_key")
# The field a service's refusal is about (by its problem code), to show it beside that field;
# the others show above the form.
FIELD_OF_PROBLEM = {
    "bad_name": "name",
    "name_taken": "name",
    "bad_corp_id": "corp_id",
    "bad_secret": "secret",
    "bad_callback_token": "callback_token",
    "bad_aes_key": "aes_key",
}


def actor_of(viewer: Viewer) -> str:
    return f"console:{viewer.user.username}"


def _values(data: Any) -> dict[str, str]:
    return {key: str(data.get(key) or "").strip() for key in FIELDS}


async def _list_page(request: Request, status: int = 200, **context: Any) -> Response:
    rt = runtime_of(request)
    async with rt.db.read() as session:
        rows = await service.list_connections(session)
        accounts = {c.id: await service.list_accounts(session, c.id) for c in rows}
    views = [connection_out(rt.settings, rt.secrets, c, accounts[c.id]) for c in rows]
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(request, "connections_list.html", status, connections=views, **context)


async def _edit_page(request: Request, connection_id: int, status: int = 200, **context: Any) -> Response:
    rt = runtime_of(request)
    async with rt.db.read() as session:
        row = await service.get_connection(session, connection_id)
        view = connection_out(rt.settings, rt.secrets, row, await service.list_accounts(session, row.id))
    context.setdefault("values", {"name": view.name, "corp_id": view.corp_id})
    context.setdefault("errors", {})
    return render(request, "connections_edit.html", status, connection=view, **context)


def _errors_of(viewer: Viewer, exc: DomainError) -> tuple[dict[str, str], ConnectionCheck | None]:
    """A refusal as (field → its words in the reader's language, `conn.problem.<code>`; the
    failed check): a failed check is shown as a whole."""
    if isinstance(exc, connection_ops.CheckFailed):
        return {}, exc.check
    return {FIELD_OF_PROBLEM.get(exc.problem, "_form"): refusal_words(viewer, "conn", exc)}, None


@router.get("/console/connections")
async def connections_page(request: Request, viewer: Admin) -> Response:
    return await _list_page(request)


@router.post("/console/connections")
async def create_connection(request: Request, viewer: Admin) -> Response:
    """新建接入: checked against WeCom first; a failed check saves nothing unless asked to."""
    data = await form(request, viewer)
    values = _values(data)
    try:
        connection, check = await connection_ops.create_connection(
            runtime_of(request),
            name=values["name"],
            corp_id=values["corp_id"],
            secret=values["secret"],
            callback_token=values["callback_token"],
            aes_key=values["aes_key"],
            check=data.get("save_unchecked") != "1",
            actor=actor_of(viewer),
        )
    except DomainError as exc:
        errors, failed = _errors_of(viewer, exc)
        kept = {k: v for k, v in values.items() if k not in SECRET_FIELDS}  # secrets are typed again
        return await _list_page(request, 422, values=kept, errors=errors, check=failed, show_new=True)
    return await _edit_page(request, connection.id, check=check, created=True)


@router.get("/console/connections/{connection_id}")
async def connection_page(request: Request, connection_id: IdPath, viewer: Admin) -> Response:
    return await _edit_page(request, connection_id)


@router.post("/console/connections/{connection_id}")
async def update_connection(request: Request, connection_id: IdPath, viewer: Admin) -> Response:
    """Edit: blank secret fields keep the stored values; a new corpid or Secret is checked first."""
    data = await form(request, viewer)
    values = _values(data)
    try:
        _, check = await connection_ops.update_connection(
            runtime_of(request),
            connection_id,
            name=values["name"] or None,
            corp_id=values["corp_id"] or None,
            secret=values["secret"] or None,
            callback_token=values["callback_token"] or None,
            aes_key=values["aes_key"] or None,
            check=data.get("save_unchecked") != "1",
            actor=actor_of(viewer),
        )
    except DomainError as exc:
        errors, failed = _errors_of(viewer, exc)
        shown = {"name": values["name"], "corp_id": values["corp_id"]}
        return await _edit_page(request, connection_id, 422, values=shown, errors=errors, check=failed)
    return await _edit_page(request, connection_id, check=check, saved=True)


@router.post("/console/connections/{connection_id}/test")
async def test_connection(request: Request, connection_id: IdPath, viewer: Admin) -> Response:
    """测试连接: fetch a token, list the accounts the app may manage, say what is wrong if it fails."""
    await form(request, viewer)
    _, check = await connection_ops.recheck_connection(
        runtime_of(request), connection_id, actor=actor_of(viewer)
    )
    return await _edit_page(request, connection_id, check=check)


@router.post("/console/connections/{connection_id}/enabled")
async def enable_connection(request: Request, connection_id: IdPath, viewer: Admin) -> Response:
    """停用 / 启用: every account under the connection (still pulled and stored while disabled)."""
    data = await form(request, viewer)
    enabled = data.get("enabled") == "1"
    rt = runtime_of(request)
    await kf_accounts.set_connection_enabled(rt, connection_id, enabled, actor=actor_of(viewer))
    return redirect(f"/console/connections/{connection_id}?{'enabled' if enabled else 'disabled'}=1")


@router.post("/console/connections/{connection_id}/delete")
async def delete_connection(request: Request, connection_id: IdPath, viewer: Admin) -> Response:
    """Delete, once the admin typed the connection's name (its accounts and messages go with it)."""
    data = await form(request, viewer)
    rt = runtime_of(request)
    async with rt.db.read() as session:
        row = await service.get_connection(session, connection_id)
    if str(data.get("confirm_name") or "").strip() != row.name:
        message = viewer.t("conn.delete_confirm_wrong", name=row.name)
        return await _edit_page(request, connection_id, 422, errors={"confirm_name": message})
    await connection_ops.delete_connection(rt, connection_id, actor=actor_of(viewer))
    return redirect("/console/connections?deleted=" + row.name)
