"""系统: console users and API tokens (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kefu.api import tokens, users
from kefu.api.deps import IdPath
from kefu.api.models import ConsoleUser
from kefu.console.menu import ADMIN
from kefu.console.web import Viewer, console_actor, form, redirect, refusal_words, render, role, runtime_of
from kefu.db import get_row
from kefu.errors import DomainError

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(role(*ADMIN))]
# The user form's field a service's refusal is about, by its problem code (else the username).
FIELD_OF_PROBLEM = {
    "bad_role": "role",
    "servicer_needs_userid": "wecom_userid",
    "userid_long": "wecom_userid",
    "display_name_long": "display_name",
    "password_short": "password",
}


async def _users_page(request: Request, status: int = 200, **context: object) -> Response:
    async with runtime_of(request).db.read() as session:
        rows = await users.list_users(session)
    context.setdefault("values", {"role": "servicer"})
    context.setdefault("errors", {})
    return render(request, "users.html", status, users=rows, roles=users.ROLES, **context)


@router.get("/console/users")
async def users_page(request: Request, viewer: Admin) -> Response:
    return await _users_page(request)


@router.post("/console/users")
async def create_user(request: Request, viewer: Admin) -> Response:
    data = await form(request, viewer)
    values = {
        key: str(data.get(key) or "").strip() for key in ("username", "role", "wecom_userid", "display_name")
    }
    try:
        async with runtime_of(request).db.write() as session:
            await users.create_user(
                session,
                username=values["username"],
                password=str(data.get("password") or ""),
                role=values["role"],
                wecom_userid=values["wecom_userid"] or None,
                display_name=values["display_name"],
                actor=console_actor(viewer),
            )
    except DomainError as exc:
        field = FIELD_OF_PROBLEM.get(exc.problem, "username")
        errors = {field: refusal_words(viewer, "users", exc)}
        return await _users_page(request, 422, values=values, errors=errors)
    return redirect("/console/users?created=" + values["username"])


@router.post("/console/users/{user_id}/disabled")
async def toggle_user(request: Request, user_id: IdPath, viewer: Admin) -> Response:
    data = await form(request, viewer)
    disable = data.get("disabled") == "1"
    if disable and user_id == viewer.user.id:
        return await _users_page(
            request, 422, flash=viewer.t("users.cannot_disable_self"), flash_kind="error"
        )
    async with runtime_of(request).db.write() as session:
        user = await get_row(session, ConsoleUser, user_id, "user")
        await users.set_disabled(session, user, disable, actor=console_actor(viewer))
    return redirect("/console/users")


async def _tokens_page(request: Request, status: int = 200, **context: object) -> Response:
    async with runtime_of(request).db.read() as session:
        rows = await tokens.list_tokens(session)
    context.setdefault("errors", {})
    return render(request, "tokens.html", status, tokens=rows, **context)


@router.get("/console/tokens")
async def tokens_page(request: Request, viewer: Admin) -> Response:
    return await _tokens_page(request)


@router.post("/console/tokens")
async def create_token(request: Request, viewer: Admin) -> Response:
    data = await form(request, viewer)
    name = str(data.get("name") or "")
    rt = runtime_of(request)
    try:
        async with rt.db.write() as session:
            _, token = await tokens.create_token(
                session, name=name, now=rt.clock.now(), actor=console_actor(viewer)
            )
    except DomainError as exc:
        words = refusal_words(viewer, "tokens", exc)
        return await _tokens_page(request, 422, errors={"name": words}, name=name)
    # Shown once, on this response only: only its hash is stored.
    return await _tokens_page(request, new_token=token, new_name=name.strip())


@router.post("/console/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: IdPath, viewer: Admin) -> Response:
    await form(request, viewer)
    async with runtime_of(request).db.write() as session:
        await tokens.revoke_token(session, str(token_id), actor=console_actor(viewer))
    return redirect("/console/tokens")
