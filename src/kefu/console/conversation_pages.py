"""会话记录: the conversations a viewer may see, and each one's full transcript (customer, AI and
servicer messages, state changes) with what may be done to it: take it from the pool, end it,
transfer it to another servicer, bind its customer to a CRM contact."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kefu.api.deps import IdPath
from kefu.console.menu import EVERYONE
from kefu.console.web import Forbidden, Viewer, form, redirect, refusal_words, render, role, runtime_of
from kefu.console.workbench_pages import account_names, acts_for_others, may_handle
from kefu.crm.service import search_contacts
from kefu.db import get_row
from kefu.db.base import row_id_of
from kefu.errors import DomainError
from kefu.reception import history, manual, service, workbench
from kefu.reception.models import Conversation
from kefu.routing.service import decisions_of, explained

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Viewer, Depends(role(*EVERYONE))]
LIST = "/console/conversations"
PAGE_SIZE = 50
# What a transcript shows of Kefu's own sends: the AI's answers are the AI's words.
AI_PURPOSES = frozenset({"ai_answer", "not_sure", "small_talk"})


Page = Annotated[int, Query(ge=1, le=10_000)]


async def _list_context(request: Request, viewer: Viewer, page: int) -> dict[str, Any]:
    async with runtime_of(request).db.read() as session:
        rows = await workbench.conversations(
            session, account_ids=viewer.account_ids, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
        customers = await workbench.customers_of(session, rows)
    return {
        "rows": rows[:PAGE_SIZE],
        "customers": customers,
        "accounts": await account_names(request),
        "page": page,
        "more": len(rows) > PAGE_SIZE,
    }


@router.get(LIST)
async def conversations_page(request: Request, viewer: Anyone, page: Page = 1) -> Response:
    return render(request, "conversations.html", **await _list_context(request, viewer, page))


@router.get(LIST + "/list")  # before LIST/{conversation_id}, which would take "list" for an id
async def conversations_list(request: Request, viewer: Anyone, page: Page = 1) -> Response:
    """The list alone: what the open page re-reads when a conversation changes."""
    return render(request, "conversations_list.html", **await _list_context(request, viewer, page))


async def _visible(request: Request, viewer: Viewer, conversation_id: int) -> Conversation:
    async with runtime_of(request).db.read() as session:
        conversation = await get_row(session, Conversation, conversation_id, "conversation")
    if not viewer.sees_account(conversation.account_id):
        raise Forbidden
    return conversation


async def _detail(request: Request, viewer: Viewer, conversation_id: int) -> dict[str, Any]:
    conversation = await _visible(request, viewer, conversation_id)
    async with runtime_of(request).db.read() as session:
        items = await history.transcript(session, conversation)
        customer = (await workbench.customers_of(session, [conversation]))[conversation.id]
        servicers = await workbench.servicers_of(session, conversation.account_id)
        loads = await workbench.loads_of(session, conversation)
        decisions = await decisions_of(session, conversation.id)  # why this servicer, or the pool
    state, now = service.state_of(conversation), runtime_of(request).clock.now()
    closes_at = state.window_closes_at()
    return {
        "conversation": conversation,
        # WeCom's rules as the mirror sees them: replies only within 48 h of the customer's last
        # message, and at most 5 of Kefu's sends (AI, notices) after it.
        "window": {
            "closes_at": closes_at,
            "open": closes_at is not None and now < closes_at,
            "sends_left": state.sends_left(now) if state.wecom_state in (0, 1) else None,
        },
        "items": items,
        "customer": customer,
        "servicers": {conversation.account_id: servicers},
        "loads": {conversation.account_id: loads},
        "may_handle": may_handle(viewer, conversation),
        "acts_for_others": acts_for_others(viewer),
        "ai_purposes": AI_PURPOSES,
        "accounts": await account_names(request),
        "decisions": decisions,
        "explanations": {
            d.id: explained(d, viewer.servicers, "en" if viewer.lang == "en" else "zh") for d in decisions
        },
    }


@router.get(LIST + "/{conversation_id}")
async def conversation_page(
    request: Request,
    conversation_id: IdPath,
    viewer: Anyone,
    contact_q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    context = await _detail(request, viewer, conversation_id)
    return await _with_contacts(request, "conversation.html", 200, contact_q, context)


async def _with_contacts(
    request: Request, template: str, status: int, contact_q: str, context: dict[str, Any]
) -> Response:
    contacts = []
    if contact_q.strip():
        async with runtime_of(request).db.read() as session:
            contacts = await search_contacts(session, q=contact_q.strip(), limit=20)
    return render(request, template, status, contact_q=contact_q, contacts=contacts, **context)


@router.get(LIST + "/{conversation_id}/transcript")
async def transcript_fragment(request: Request, conversation_id: IdPath, viewer: Anyone) -> Response:
    """The transcript and the session's state alone: what the page re-reads on a change."""
    return render(request, "conversation_live.html", **await _detail(request, viewer, conversation_id))


async def _refused(
    request: Request, viewer: Viewer, conversation_id: int, message: str, status: int = 409
) -> Response:
    """The page again, saying why (the service's words) with the service's status."""
    context = await _detail(request, viewer, conversation_id)
    return await _with_contacts(
        request, "conversation.html", status, "", {**context, "flash": message, "flash_kind": "error"}
    )


@router.post(LIST + "/{conversation_id}/end")
async def end(request: Request, conversation_id: IdPath, viewer: Anyone) -> Response:
    await form(request, viewer)
    conversation = await _visible(request, viewer, conversation_id)
    if not may_handle(viewer, conversation):
        raise Forbidden
    try:
        # Reports tell the session's own servicer from a manager stepping in.
        own = bool(viewer.user.wecom_userid) and viewer.user.wecom_userid == conversation.servicer_userid
        await manual.end(
            runtime_of(request),
            conversation_id,
            by=viewer.user.username,
            who="servicer_in_console" if own else "admin_in_console",
        )
    except DomainError as exc:
        words = refusal_words(viewer, "conversations", exc)
        return await _refused(request, viewer, conversation_id, words, exc.status_code)
    return redirect(f"{LIST}/{conversation_id}?ended=1")


@router.post(LIST + "/{conversation_id}/transfer")
async def transfer(request: Request, conversation_id: IdPath, viewer: Anyone) -> Response:
    data = await form(request, viewer)
    conversation = await _visible(request, viewer, conversation_id)
    if not may_handle(viewer, conversation):
        raise Forbidden
    to = str(data.get("servicer_userid") or "").strip()
    if not to:
        return await _refused(request, viewer, conversation_id, viewer.t("workbench.choose_servicer"))
    try:
        await manual.hand_over(runtime_of(request), conversation_id, to, by=viewer.user.username)
    except DomainError as exc:
        words = refusal_words(viewer, "conversations", exc)
        return await _refused(request, viewer, conversation_id, words, exc.status_code)
    return redirect(f"{LIST}/{conversation_id}?transferred={to}")


@router.post(LIST + "/{conversation_id}/contact")
async def bind_contact(request: Request, conversation_id: IdPath, viewer: Anyone) -> Response:
    data = await form(request, viewer)
    conversation = await _visible(request, viewer, conversation_id)
    contact_id = row_id_of(str(data.get("contact_id") or ""))
    if contact_id is None:
        return await _refused(request, viewer, conversation_id, viewer.t("conversations.choose_contact"), 422)
    rt = runtime_of(request)
    try:
        async with rt.db.write() as session:
            conversation = await get_row(session, Conversation, conversation_id, "conversation")
            await workbench.bind_customer(
                session,
                rt.settings,
                conversation,
                contact_id,
                by=f"console:{viewer.user.username}",
                now=rt.clock.now(),
            )
    except DomainError as exc:  # the CRM's refusal (bound meanwhile, contact deleted), coded
        words = refusal_words(viewer, "conversations", exc)
        return await _refused(request, viewer, conversation_id, words, exc.status_code)
    return redirect(f"{LIST}/{conversation_id}?bound=1")
