"""工作台 → 留言 and 待回复: what customers left off hours or after a queue timeout, to work and
close; and human sessions whose customer waits for the servicer's reply. A servicer sees their
own accounts' 留言 and their own sessions; admins and supervisors see all."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.api.deps import IdPath
from kefu.api.models import ConsoleUser
from kefu.console.menu import EVERYONE
from kefu.console.web import Forbidden, Viewer, form, redirect, refusal_words, render, role, runtime_of
from kefu.console.workbench_pages import account_names, acts_for_others
from kefu.db import get_row
from kefu.errors import DomainError
from kefu.reception import history, workbench
from kefu.reception.follow_ups import close_follow_up
from kefu.reception.models import Conversation, FollowUp

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Viewer, Depends(role(*EVERYONE))]
FOLLOW_UPS = "/console/workbench/follow-ups"
AWAITING = "/console/workbench/awaiting-reply"
NOTE_MAX = 500
MinMinutes = Annotated[int, Query(ge=0, le=366 * 24 * 60)]


async def _follow_ups_page(
    request: Request, viewer: Viewer, status: str, code: int = 200, **context: Any
) -> Response:
    async with runtime_of(request).db.read() as session:
        rows = await workbench.follow_ups_of(session, viewer.account_ids, status=status)
        conversations = [
            await get_row(session, Conversation, row.conversation_id, "conversation") for row, _ in rows
        ]
        customers = await workbench.customers_of(session, conversations)
        closers = await _names_of(session, {row.closed_by for row, _ in rows if row.closed_by})
    items = [
        {
            "row": row,
            "conversation": conversation,
            "customer": customers.get(conversation.id),
            "texts": [(m.send_time, m.msgtype, history.message_text(m.payload, m.msgtype)) for m in messages],
        }
        for (row, messages), conversation in zip(rows, conversations, strict=True)
    ]
    return render(
        request,
        "follow_ups.html",
        code,
        items=items,
        closers=closers,
        status=status,
        accounts=await account_names(request),
        **context,
    )


async def _names_of(session: AsyncSession, usernames: set[str]) -> dict[str, str]:
    """Console users by the name people know (their display name), not by their login."""
    if not usernames:
        return {}
    query = select(ConsoleUser.username, ConsoleUser.display_name).where(ConsoleUser.username.in_(usernames))
    return {username: name for username, name in (await session.execute(query)).all() if name}


@router.get(FOLLOW_UPS)
async def follow_ups_page(
    request: Request, viewer: Anyone, status: Literal["open", "closed"] = "open"
) -> Response:
    return await _follow_ups_page(request, viewer, status)


@router.post(FOLLOW_UPS + "/{follow_up_id}/close")
async def close(request: Request, follow_up_id: IdPath, viewer: Anyone) -> Response:
    data = await form(request, viewer)
    note = str(data.get("note") or "").strip()
    rt = runtime_of(request)
    async with rt.db.read() as session:
        row = await get_row(session, FollowUp, follow_up_id, "follow-up")
    if not viewer.sees_account(row.account_id):
        raise Forbidden
    if len(note) > NOTE_MAX:
        message = viewer.t("attention.note_too_long", n=NOTE_MAX)
        return await _follow_ups_page(request, viewer, "open", 422, flash=message, flash_kind="error")
    try:
        async with rt.db.write() as session:
            await close_follow_up(
                session, follow_up_id, by=viewer.user.username, note=note or None, now=rt.clock.now()
            )
    except DomainError as exc:  # closed by someone else meanwhile
        words = refusal_words(viewer, "attention", exc)
        return await _follow_ups_page(
            request, viewer, "open", exc.status_code, flash=words, flash_kind="error"
        )
    return redirect(FOLLOW_UPS + "?closed=1")


async def _awaiting_context(request: Request, viewer: Viewer, min_minutes: int) -> dict[str, Any]:
    rt = runtime_of(request)
    now = rt.clock.now()
    everyone = acts_for_others(viewer)
    async with rt.db.read() as session:
        rows = await workbench.awaiting_replies(
            session,
            viewer.account_ids,
            servicer_userid=None if everyone else (viewer.user.wecom_userid or "-"),
            since_before=now - timedelta(minutes=min_minutes),
        )
        customers = await workbench.customers_of(session, rows)
    return {
        "rows": rows,
        "customers": customers,
        "everyone": everyone,
        "now": now,
        "min_minutes": min_minutes,
        "accounts": await account_names(request),
    }


@router.get(AWAITING)
async def awaiting_page(request: Request, viewer: Anyone, min_minutes: MinMinutes = 0) -> Response:
    return render(request, "awaiting_reply.html", **await _awaiting_context(request, viewer, min_minutes))


@router.get(AWAITING + "/list")
async def awaiting_list(request: Request, viewer: Anyone, min_minutes: MinMinutes = 0) -> Response:
    """The list alone: what the open page re-reads on a change, and as the minutes pass."""
    context = await _awaiting_context(request, viewer, min_minutes)
    return render(request, "awaiting_reply_list.html", **context)
