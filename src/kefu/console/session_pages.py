"""Sign in, sign out, the language switch and the console's home page."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from kefu.api.users import SESSION_LIFETIME, TooManyAttempts, sign_in, sign_out
from kefu.console.form_body import read_form
from kefu.console.i18n import LANG_COOKIE, LANGUAGES
from kefu.console.web import SESSION_COOKIE, Viewer, form, redirect, render, runtime_of, signed_in
from kefu.reception.models import Conversation

router = APIRouter(include_in_schema=False)
POOL, HUMAN = 2, 3  # WeCom session states: 待接入池, 人工接待


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: an absolute or scheme-relative URL would be an open redirect."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/"


LOGIN_CSRF_COOKIE = "kefu_login_csrf"


def _login_form(request: Request, status: int, **context: object) -> Response:
    """The login page with a fresh double-submit token: before a session exists, the form's
    token must equal this cookie's, so another site cannot sign a browser in as someone else."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status, login_csrf=token, **context)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console")
    return response


@router.get("/console/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, 200, next=_safe_next(next), username="", error=None)


@router.post("/console/login")
async def login(request: Request) -> Response:
    data = await read_form(request)
    username, password = str(data.get("username") or ""), str(data.get("password") or "")
    target = _safe_next(str(data.get("next") or ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(str(data.get("csrf_token") or "").encode(), expected.encode()):
        return _login_form(request, 403, next=target, username=username, error="login.expired")
    if "\x00" in username:  # no user is named so; PostgreSQL would refuse the look-up with a 500
        return _login_form(request, 401, next=target, username="", error="login.wrong")
    address = request.client.host if request.client else "unknown"
    try:
        async with runtime_of(request).db.write() as session:
            done = await sign_in(session, username=username, password=password, address=address)
    except TooManyAttempts:
        return _login_form(request, 429, next=target, username=username, error="login.throttled")
    if done is None:
        return _login_form(request, 401, next=target, username=username, error="login.wrong")
    response = redirect(target)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    response.set_cookie(
        SESSION_COOKIE,
        done.token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


@router.post("/console/logout")
async def logout(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    await form(request, viewer)
    async with runtime_of(request).db.write() as session:
        await sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("/console/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    back = request.headers.get("referer", "")
    path = "/console/" + back.split("/console/", 1)[1] if "/console/" in back else "/console/"
    response = redirect(_safe_next(path))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/console/")
async def home(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    waiting = select(func.count()).select_from(Conversation).where(Conversation.wecom_state == POOL)
    mine = (
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.wecom_state == HUMAN, Conversation.servicer_userid == viewer.user.wecom_userid)
    )
    if viewer.account_ids is not None:
        waiting = waiting.where(Conversation.account_id.in_(viewer.account_ids))
    async with runtime_of(request).db.read() as session:
        counts = {"waiting": await session.scalar(waiting) or 0, "mine": await session.scalar(mine) or 0}
    return render(request, "home.html", counts=counts)
