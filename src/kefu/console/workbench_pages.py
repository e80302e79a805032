"""工作台: the queue pool (排队池) with manual take, my sessions (我的会话), and the live signal
(/console/events) that keeps both — and an open transcript — current without reload.

A servicer sees the pools of their own accounts and their own sessions, and takes for
themselves; admins and supervisors see everything and act for a servicer they choose. Taking,
ending and transferring are kefu.reception.manual's (the API's too); WeCom is called by the
delivery jobs the decision enqueues, never from here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from kefu.accounts.models import KfAccount
from kefu.api.deps import IdPath
from kefu.console import live
from kefu.console.menu import EVERYONE
from kefu.console.web import Forbidden, Viewer, form, redirect, refusal_words, render, role, runtime_of
from kefu.db import get_row
from kefu.errors import DomainError
from kefu.reception import manual, workbench
from kefu.reception.models import Conversation

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Viewer, Depends(role(*EVERYONE))]
POOL = "/console/workbench/pool"
SESSIONS = "/console/workbench/sessions"


def acts_for_others(viewer: Viewer) -> bool:
    """Admins and supervisors act for a servicer they choose; a servicer acts for themselves."""
    return viewer.role != "servicer"


def may_handle(viewer: Viewer, conversation: Conversation) -> bool:
    """End or transfer: a servicer only their own session; managers any."""
    if acts_for_others(viewer):
        return True
    mine = viewer.user.wecom_userid
    return (
        bool(mine) and viewer.sees_account(conversation.account_id) and conversation.servicer_userid == mine
    )


async def account_names(request: Request) -> dict[int, str]:
    async with runtime_of(request).db.read() as session:
        rows = await session.execute(select(KfAccount.id, KfAccount.name))
        return {account_id: name for account_id, name in rows.all()}


async def _pool_context(request: Request, viewer: Viewer) -> dict[str, Any]:
    async with runtime_of(request).db.read() as session:
        line = await workbench.pools(session, viewer.account_ids)
        customers = await workbench.customers_of(session, [w.conversation for w in line])
        servicers = {
            account_id: await workbench.servicers_of(session, account_id)
            for account_id in {w.conversation.account_id for w in line}
        }
        one_of = {w.conversation.account_id: w.conversation for w in line}  # one stands for its account
        loads = (
            {account_id: await workbench.loads_of(session, row) for account_id, row in one_of.items()}
            if acts_for_others(viewer)
            else {}
        )
    return {
        "line": line,
        "customers": customers,
        "servicers": servicers if acts_for_others(viewer) else {},
        "loads": loads,
        "accounts": await account_names(request),
        "now": runtime_of(request).clock.now(),
    }


@router.get(POOL)
async def pool_page(request: Request, viewer: Anyone) -> Response:
    return render(request, "workbench_pool.html", **await _pool_context(request, viewer))


@router.get(POOL + "/list")
async def pool_list(request: Request, viewer: Anyone) -> Response:
    """The pool's table alone: what the page re-reads on a change."""
    return render(request, "workbench_pool_list.html", **await _pool_context(request, viewer))


@router.post(POOL + "/{conversation_id}/take")
async def take(request: Request, conversation_id: IdPath, viewer: Anyone) -> Response:
    data = await form(request, viewer)
    rt = runtime_of(request)
    async with rt.db.read() as session:
        conversation = await get_row(session, Conversation, conversation_id, "conversation")
    if not viewer.sees_account(conversation.account_id):
        raise Forbidden
    servicer = (
        str(data.get("servicer_userid") or "").strip()
        if acts_for_others(viewer)
        else viewer.user.wecom_userid or ""
    )
    if not servicer:
        return await _pool_refused(request, viewer, viewer.t("workbench.choose_servicer"))
    try:
        await manual.take(rt, conversation_id, servicer, by=viewer.user.username)
    except DomainError as exc:
        words = refusal_words(viewer, "conversations", exc)  # manual's refusals, as on a conversation
        return await _pool_refused(request, viewer, words, exc.status_code)
    return redirect(SESSIONS + "?taken=" + str(conversation_id))


async def _pool_refused(request: Request, viewer: Viewer, message: str, status: int = 409) -> Response:
    context = await _pool_context(request, viewer)
    return render(request, "workbench_pool.html", status, flash=message, flash_kind="error", **context)


async def _sessions_context(request: Request, viewer: Viewer) -> dict[str, Any]:
    everyone = acts_for_others(viewer)
    async with runtime_of(request).db.read() as session:
        rows = await workbench.human_sessions(
            session,
            servicer_userid=None if everyone else (viewer.user.wecom_userid or "-"),
            account_ids=viewer.account_ids,
        )
        customers = await workbench.customers_of(session, rows)
        servicers = {
            account_id: await workbench.servicers_of(session, account_id)
            for account_id in {row.account_id for row in rows}
        }
        one_of = {row.account_id: row for row in rows}  # a conversation standing for its account
        loads = {account_id: await workbench.loads_of(session, row) for account_id, row in one_of.items()}
    return {
        "rows": rows,
        "customers": customers,
        "servicers": servicers,
        "loads": loads,
        "everyone": everyone,
        "accounts": await account_names(request),
        "now": runtime_of(request).clock.now(),
    }


@router.get(SESSIONS)
async def sessions_page(request: Request, viewer: Anyone) -> Response:
    return render(request, "workbench_sessions.html", **await _sessions_context(request, viewer))


@router.get(SESSIONS + "/list")
async def sessions_list(request: Request, viewer: Anyone) -> Response:
    return render(request, "workbench_sessions_list.html", **await _sessions_context(request, viewer))


@router.get("/console/events")
async def events(request: Request, viewer: Anyone) -> Response:
    """Server-Sent Events: `changed` whenever conversations change (kefu.console.live). A request
    that does not ask for an event stream gets the reconnect delay alone."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if "text/event-stream" not in request.headers.get("accept", ""):
        return Response(f"retry: {live.RETRY_MS}\n\n", media_type="text/event-stream", headers=headers)
    return StreamingResponse(
        live.changes(runtime_of(request)), media_type="text/event-stream", headers=headers
    )
