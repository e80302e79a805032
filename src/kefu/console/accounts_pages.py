"""接入后设置 → 在线客服账号 (admins only): the list, 新建, and each account's page with the seed's
tabs 基础设置 / 问答接待规则 / 人工接待时间 / 排队与分流 / 高级功能设置.

Settings are validated and saved by kefu.accounts.settings (the config file's and the REST API's
check; a change is versioned and audited there). Name, avatar and 启用 go through
kf_accounts.update_account (WeCom first), servicers through kefu.accounts.servicers, the
contact link through kefu.accounts.contact — each records its audit event by the viewer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kefu.accounts import contact, kf_accounts, service, servicers
from kefu.accounts.settings import (
    SettingsInvalid,
    get_account,
    load_ai_settings,
    save_account_settings,
    settings_json,
    stored_settings,
    validate_settings,
)
from kefu.accounts.settings_types import MAX_SESSIONS_CAP
from kefu.api import users
from kefu.api.deps import IdPath
from kefu.console import account_settings_form as forms
from kefu.console.connections_pages import actor_of
from kefu.console.form_body import Upload, take_upload
from kefu.console.i18n import problem_words
from kefu.console.menu import ADMIN
from kefu.console.web import Viewer, form, redirect, refusal_words, render, role, runtime_of
from kefu.db.base import row_id_of
from kefu.errors import DomainError, Invalid, NotFound
from kefu.hours import ReceptionCalendar
from kefu.schema_types import Problem

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(role(*ADMIN))]
# The field beside which a service's refusal shows, by its problem code (the others: the form's
# main field — the name, the servicer's userid, the settings form's top).
FIELD_OF_PROBLEM = {
    "connection_not_found": "connection_id",
    "avatar_too_large": "avatar",
    "avatar_not_image": "avatar",
    "servicer_name_length": "servicer_name",
}


def _errors(viewer: Viewer, exc: DomainError, field: str) -> dict[str, str]:
    """A service's refusal in the reader's language (`accounts.problem.<code>`), by its field."""
    return {FIELD_OF_PROBLEM.get(exc.problem, field): refusal_words(viewer, "accounts", exc)}


def _settings_errors(viewer: Viewer, tab: str, exc: SettingsInvalid) -> dict[str, str]:
    """The settings check's problems beside their fields, each in the reader's language
    (`settings.problem.<code>`: pydantic's error type or a Kefu rule's code)."""

    def words(p: Problem) -> str:
        said = problem_words(viewer.t, "settings", p.problem, p.values, p.reason)
        option = forms.survey_option_of(p.path)  # one textarea, a line each: say which line
        if option is None:
            return said
        if p.problem == "missing":
            said = viewer.t("accounts.survey_score_missing")
        return viewer.t("accounts.survey_option", n=option, words=said)

    return forms.errors_by_field(tab, exc.problems, words)


def _tab(tab: str) -> str:
    if tab not in forms.TABS:
        raise NotFound(f"no tab {tab!r}", "tab_not_found", {"tab": tab})
    return tab


@router.get("/console/accounts")
async def accounts_page(request: Request, viewer: Admin) -> Response:
    return await _list_page(request)


async def _list_page(request: Request, status: int = 200, **context: Any) -> Response:
    async with runtime_of(request).db.read() as session:
        connections = {c.id: c for c in await service.list_connections(session)}
        rows = await kf_accounts.list_all_accounts(session)
        counts = {a.id: len(await servicers.list_servicers(session, a.id)) for a in rows}
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request,
        "accounts_list.html",
        status,
        accounts=rows,
        connections=connections,
        servicer_counts=counts,
        **context,
    )


@router.post("/console/accounts")
async def create_account(request: Request, viewer: Admin) -> Response:
    """新建在线客服账号: created in WeCom (the default avatar), then stored."""
    data = await form(request, viewer)
    values = {key: str(data.get(key) or "").strip() for key in ("connection_id", "name")}
    try:
        connection_id = row_id_of(values["connection_id"])
        if connection_id is None:
            raise Invalid(viewer.t("accounts.choose_connection"))
        account = await kf_accounts.create_account(
            runtime_of(request),
            connection_id=connection_id,
            name=values["name"],
            changed_by=viewer.user.username,
            source="console",
        )
    except DomainError as exc:  # a connection deleted meanwhile; else about the name (or WeCom's)
        errors = _errors(viewer, exc, "name")
        return await _list_page(request, 422, values=values, errors=errors, show_new=True)
    return redirect(f"/console/accounts/{account.id}?created=1")


@router.get("/console/accounts/{account_id}")
async def account_page(request: Request, account_id: IdPath, viewer: Admin, tab: str = "basic") -> Response:
    return await _account_page(request, account_id, _tab(tab))


async def _account_page(
    request: Request,
    account_id: int,
    tab: str,
    status: int = 200,
    *,
    candidate: dict[str, Any] | None = None,
    **context: Any,
) -> Response:
    """One tab of the account page; `candidate` is a refused form's value, shown as typed."""
    rt = runtime_of(request)
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        connection = await service.get_connection(session, account.connection_id)
        stored = stored_settings(account)
        ai = await load_ai_settings(session)
        rows = await servicers.list_servicers(session, account_id)
        known_userids = sorted({u.wecom_userid for u in await users.list_users(session) if u.wecom_userid})
    calendar = ReceptionCalendar(stored.hours, stored.timezone)
    local_today = calendar.local(rt.clock.now()).date()
    warning = calendar.holiday_data_warning(local_today, locale=request_lang(request))
    context.setdefault("errors", {})
    return render(
        request,
        "account_page.html",
        status,
        account=account,
        connection=connection,
        tab=tab,
        tabs=forms.TABS,
        s=candidate if candidate is not None else settings_json(stored),
        ai_configured=ai.configured,
        servicers=rows,
        known_userids=known_userids,
        holiday_warning=warning,
        weekdays=forms.WEEKDAYS,
        routing_rules=forms.ROUTING_RULES,
        message_modes=forms.MESSAGE_MODES,
        servicer_error=_servicer_error_words(request.state.viewer),
        **context,
    )


def _servicer_error_words(viewer: Viewer) -> Callable[[str | None], str]:
    """WeCom's refusal of a servicer (kept in English on the row, as the CLI prints it) in the
    reader's language where Kefu knows its words; another errcode shows as kept."""
    known = {servicers.describe_words(code): str(code) for code in servicers.ITEM_ERRORS}
    known[servicers.NOT_LISTED] = "not_listed"

    def words(kept: str | None) -> str:
        key = known.get(kept or "")
        return viewer.t(f"accounts.servicer_error.{key}") if key else kept or ""

    return words


def request_lang(request: Request) -> str:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    return "en" if viewer is not None and viewer.lang == "en" else "zh"


@router.post("/console/accounts/{account_id}/settings/{tab}")
async def save_settings(request: Request, account_id: IdPath, tab: str, viewer: Admin) -> Response:
    """Save one tab: validated as a whole (the same check as the config file and the API); a
    refused value is shown beside its field and nothing is saved."""
    tab = _tab(tab)
    data = await form(request, viewer, files=["avatar"] if tab == "basic" else ())
    # Read before anything can refuse the form: its temporary file is closed either way.
    upload = await take_upload(data, "avatar")
    rt = runtime_of(request)
    async with rt.db.read() as session:
        stored = settings_json(stored_settings(await get_account(session, account_id)))
    candidate = forms.form_to_settings(stored, tab, data)
    try:
        if tab == "basic":
            await _save_basic(request, account_id, data, upload, candidate, viewer)
        else:
            async with rt.db.write() as session:
                account = await get_account(session, account_id)
                await save_account_settings(
                    session,
                    account,
                    candidate,
                    changed_by=viewer.user.username,
                    source="console",
                    now=rt.clock.now(),
                )
    except DomainError as exc:
        if isinstance(exc, SettingsInvalid):
            errors = _settings_errors(viewer, tab, exc)
        else:  # a name WeCom's rule refuses, an avatar it cannot take, or WeCom itself refused
            errors = _errors(viewer, exc, "name" if tab == "basic" else forms.FORM_ERROR)
        typed = {"form_name": str(data.get("name") or "")} if tab == "basic" else {}
        return await _account_page(request, account_id, tab, 422, candidate=candidate, errors=errors, **typed)
    return redirect(f"/console/accounts/{account_id}?tab={tab}&saved=1")


async def _save_basic(
    request: Request,
    account_id: int,
    data: Any,
    upload: Upload | None,
    candidate: dict[str, Any],
    viewer: Viewer,
) -> None:
    """基础设置: the settings part is checked first, so a refused text changes nothing in WeCom."""
    rt = runtime_of(request)
    async with rt.db.read() as session:
        validate_settings(candidate, ai=await load_ai_settings(session))
    avatar = None
    if upload is not None and upload.filename:
        avatar = kf_accounts.Avatar(content=upload.content, filename=upload.filename)
    await kf_accounts.update_account(
        rt,
        account_id,
        name=str(data.get("name") or ""),
        avatar=avatar,
        enabled=data.get("enabled") == "1",
        actor=actor_of(viewer),
    )
    async with rt.db.write() as session:
        account = await get_account(session, account_id)
        await save_account_settings(
            session, account, candidate, changed_by=viewer.user.username, source="console", now=rt.clock.now()
        )


@router.post("/console/accounts/{account_id}/servicers")
async def add_servicer(request: Request, account_id: IdPath, viewer: Admin) -> Response:
    """Add a 接待人员, or give a listed one a new cap and name: WeCom's servicer list first; a
    refusal is kept with its reason."""
    data = await form(request, viewer)
    userid = str(data.get("userid") or "").strip()
    cap = str(data.get("max_sessions") or "").strip()
    name = str(data.get("name") or "").strip()
    typed: dict[str, Any] = {"servicer_userid": userid, "servicer_name": name, "servicer_cap": cap}
    try:
        if cap and not (cap.isascii() and cap.isdigit()):
            raise Invalid(f"max_sessions {cap!r} is not a whole number", "bad_cap", {"max": MAX_SESSIONS_CAP})
        spec = servicers.ServicerSpec(userid, int(cap) if cap else None, name or None)
        sync = await servicers.add_servicers(runtime_of(request), account_id, [spec], actor=actor_of(viewer))
    except DomainError as exc:
        errors = _errors(viewer, exc, "servicer_userid")
        return await _account_page(request, account_id, "basic", 422, errors=errors, **typed)
    if sync.problems:
        return await _account_page(request, account_id, "basic", 200, servicer_problems=sync.problems)
    return redirect(f"/console/accounts/{account_id}?servicer_added={userid}#servicers")


@router.post("/console/accounts/{account_id}/servicers/remove")
async def remove_servicer(request: Request, account_id: IdPath, viewer: Admin) -> Response:
    data = await form(request, viewer)
    userid = str(data.get("userid") or "")
    await servicers.remove_servicers(runtime_of(request), account_id, [userid], actor=actor_of(viewer))
    return redirect(f"/console/accounts/{account_id}?servicer_removed={userid}#servicers")


@router.post("/console/accounts/{account_id}/link")
async def create_link(request: Request, account_id: IdPath, viewer: Admin) -> Response:
    """A new contact link (kf/add_contact_way), with an optional scene."""
    data = await form(request, viewer)
    scene = str(data.get("scene") or "").strip() or None
    try:
        await contact.create_link(runtime_of(request), account_id, scene=scene, actor=actor_of(viewer))
    except DomainError as exc:
        errors = _errors(viewer, exc, "scene")
        return await _account_page(request, account_id, "basic", 422, errors=errors, scene=scene)
    return redirect(f"/console/accounts/{account_id}?link=1#contact")


@router.get("/console/accounts/{account_id}/qr.png")
async def qr_png(request: Request, account_id: IdPath, viewer: Admin, download: int = 0) -> Response:
    """The contact link's QR code; never makes a link (a GET changes nothing)."""
    async with runtime_of(request).db.read() as session:
        account = await get_account(session, account_id)
    png = contact.qr_code(contact.offered_link(account), "png")
    headers = {"Cache-Control": "no-store"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="kefu-account-{account_id}-qr.png"'
    return Response(png, media_type="image/png", headers=headers)


@router.get("/console/accounts/{account_id}/avatar")
async def avatar(request: Request, account_id: IdPath, viewer: Admin) -> Response:
    """The avatar file an account was given from disk (config file or CLI); 404 otherwise."""
    async with runtime_of(request).db.read() as session:
        account = await get_account(session, account_id)
    if not account.avatar_path:
        raise NotFound("this account's avatar is not stored as a file")
    try:
        content = await asyncio.to_thread(Path(account.avatar_path).read_bytes)
    except OSError as exc:
        raise NotFound(f"cannot read the avatar file: {exc.strerror or exc}") from exc
    kind = "image/png" if content.startswith(b"\x89PNG") else "image/jpeg"
    return Response(content, media_type=kind, headers={"Cache-Control": "no-store"})
