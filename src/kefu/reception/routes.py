"""REST: /api/v1/conversations — the conversations Kefu mirrors and their transcripts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.settings import get_account
from kefu.api.auth import require_token
from kefu.api.deps import IdPath, IdQuery, OffsetQuery, RuntimeDep, TokenDep
from kefu.api.routes import ApiRoute
from kefu.db import get_row
from kefu.reception import history, manual
from kefu.reception.attention import awaiting_reply
from kefu.reception.follow_ups import close_follow_up, follow_ups, messages_of
from kefu.reception.models import Conversation, FollowUp
from kefu.reception.pool import waiting_line
from kefu.reception.schemas import (
    AwaitingReplyOut,
    ConversationDetail,
    ConversationOut,
    EndOut,
    FollowUpClose,
    FollowUpMessage,
    FollowUpOut,
    TakeIn,
    TakeOut,
    WaitingOut,
)
from kefu.routing import service as routing_service
from kefu.routing.schemas import RoutingDecisionOut

# `?min_minutes=` of the awaiting-reply list: a year is more than any wait worth listing.
MAX_MINUTES = 366 * 24 * 60

router = APIRouter(
    prefix="/conversations",
    tags=["conversations"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)


@router.get("", response_model=list[ConversationOut])
async def list_conversations(
    rt: RuntimeDep,
    account_id: IdQuery = None,
    wecom_state: Annotated[int | None, Query(ge=0, le=4)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> list[ConversationOut]:
    """Most recently active first; filter by account and by WeCom session state."""
    async with rt.db.read() as session:
        rows = await history.list_conversations(
            session, account_id=account_id, wecom_state=wecom_state, limit=limit, offset=offset
        )
    return [ConversationOut.model_validate(row) for row in rows]


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(conversation_id: IdPath, rt: RuntimeDep) -> ConversationDetail:
    """The conversation, its mirror of WeCom's session, and its transcript in order: customer,
    servicer and Kefu messages, state changes, failed or refused actions, ratings."""
    async with rt.db.read() as session:
        conversation = await get_row(session, Conversation, conversation_id, "conversation")
        items = await history.transcript(session, conversation)
    return ConversationDetail(
        conversation=ConversationOut.model_validate(conversation),
        state=conversation.state,
        transcript=items,
    )


@router.get("/{conversation_id}/routing", response_model=list[RoutingDecisionOut])
async def get_routing(conversation_id: IdPath, rt: RuntimeDep) -> list[RoutingDecisionOut]:
    """Every routing decision of the conversation, oldest first, each explained in one line."""
    async with rt.db.read() as session:
        await get_row(session, Conversation, conversation_id, "conversation")
        rows = await routing_service.decisions_of(session, conversation_id)
    return [RoutingDecisionOut.model_validate(row) for row in rows]


@router.post("/{conversation_id}/take", response_model=TakeOut, status_code=202)
async def take(conversation_id: IdPath, body: TakeIn, rt: RuntimeDep, token: TokenDep) -> TakeOut:
    """A servicer takes a waiting customer by hand (手动接入), even past their cap (they chose
    to). Of two takes at once exactly one wins; the other answers 409 with who has the customer."""
    await manual.take(rt, conversation_id, body.servicer_userid, by=token.name)
    return TakeOut(
        conversation_id=conversation_id, servicer_userid=body.servicer_userid, status="transferring"
    )


@router.post("/{conversation_id}/hand-over", response_model=TakeOut, status_code=202)
async def hand_over(conversation_id: IdPath, body: TakeIn, rt: RuntimeDep, token: TokenDep) -> TakeOut:
    """Hand a human session to another servicer (转接, trans 3 → 3), who must be receiving and
    under their cap; 409 says why not."""
    await manual.hand_over(rt, conversation_id, body.servicer_userid, by=token.name)
    return TakeOut(
        conversation_id=conversation_id, servicer_userid=body.servicer_userid, status="transferring"
    )


@router.post("/{conversation_id}/end", response_model=EndOut, status_code=202)
async def end(conversation_id: IdPath, rt: RuntimeDep, token: TokenDep) -> EndOut:
    """End a human session, or a customer's wait in the pool (trans → 4); the account's ending
    message follows. 409 when the session is in neither state or a transfer is on its way."""
    await manual.end(rt, conversation_id, by=token.name, who="api")
    return EndOut(conversation_id=conversation_id, status="ending")


pool_router = APIRouter(
    prefix="/accounts/{account_id}/pool",
    tags=["conversations"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)


@pool_router.get("", response_model=list[WaitingOut])
async def list_pool(account_id: IdPath, rt: RuntimeDep) -> list[WaitingOut]:
    """The queue pool in order: who, since when, position, what they asked, whom they wait for."""
    async with rt.db.read() as session:
        await get_account(session, account_id)
        line = await waiting_line(session, account_id)
    return [
        WaitingOut(
            conversation_id=w.conversation.id,
            external_userid=w.conversation.external_userid,
            position=w.position,
            waiting_since=w.conversation.queued_at,
            first_question=w.first_question,
            reserved_for=w.conversation.reserved_for,
        )
        for w in line
    ]


follow_up_router = APIRouter(
    tags=["conversations"], route_class=ApiRoute, dependencies=[Depends(require_token)]
)


async def _follow_up_out(session: AsyncSession, row: FollowUp) -> FollowUpOut:
    conversation = await session.get(Conversation, row.conversation_id)
    assert conversation is not None  # follow-ups cascade with their conversation
    return FollowUpOut(
        id=row.id,
        conversation_id=row.conversation_id,
        external_userid=conversation.external_userid,
        reason=row.reason,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        opened_at=row.opened_at,
        last_message_at=row.last_message_at,
        messages=[
            FollowUpMessage(msgid=m.msgid, at=m.send_time, text=history.message_text(m.payload, m.msgtype))
            for m in await messages_of(session, row)
        ],
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        note=row.note,
    )


attention_router = APIRouter(
    prefix="/accounts/{account_id}",
    tags=["conversations"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)


@attention_router.get("/awaiting-reply", response_model=list[AwaitingReplyOut])
async def list_awaiting_reply(
    account_id: IdPath,
    rt: RuntimeDep,
    min_minutes: Annotated[int, Query(ge=0, le=MAX_MINUTES)] = 0,  # past it, timedelta overflows
) -> list[AwaitingReplyOut]:
    """Human sessions whose customer has waited at least `min_minutes` for the servicer's word,
    longest first (the no-reply notice's list)."""
    now = rt.clock.now()
    async with rt.db.read() as session:
        await get_account(session, account_id)
        rows = await awaiting_reply(session, account_id, since_before=now - timedelta(minutes=min_minutes))
    return [
        AwaitingReplyOut(
            conversation_id=row.id,
            external_userid=row.external_userid,
            servicer_userid=row.servicer_userid,
            waiting_since=row.awaiting_reply_since,
            waiting_minutes=int((now - row.awaiting_reply_since).total_seconds() // 60),
            notice_sent=bool((row.state or {}).get("no_reply_notice_sent")),
        )
        for row in rows
        if row.awaiting_reply_since is not None
    ]


@attention_router.get("/over-cap", response_model=list[RoutingDecisionOut])
async def list_over_cap(account_id: IdPath, rt: RuntimeDep) -> list[RoutingDecisionOut]:
    """Takes and transfers that put a servicer past their cap (in the WeCom app or by hand), newest
    first. Kefu's own rules never do."""
    async with rt.db.read() as session:
        await get_account(session, account_id)
        rows = await routing_service.over_cap_decisions(session, account_id)
    return [RoutingDecisionOut.model_validate(row) for row in rows]


@follow_up_router.get("/accounts/{account_id}/follow-ups", response_model=list[FollowUpOut])
async def list_follow_ups(
    account_id: IdPath, rt: RuntimeDep, status: Literal["open", "closed"] = "open"
) -> list[FollowUpOut]:
    """留言 to work: who, why (off hours or a queue timeout), what they wrote and when."""
    async with rt.db.read() as session:
        await get_account(session, account_id)
        return [
            await _follow_up_out(session, row) for row in await follow_ups(session, account_id, status=status)
        ]


@follow_up_router.post("/follow-ups/{follow_up_id}/close", response_model=FollowUpOut)
async def close(follow_up_id: IdPath, body: FollowUpClose, rt: RuntimeDep, token: TokenDep) -> FollowUpOut:
    """Done with it; closing twice answers 409 naming who closed it."""
    async with rt.db.write() as session:
        row = await close_follow_up(session, follow_up_id, by=token.name, note=body.note, now=rt.clock.now())
        return await _follow_up_out(session, row)
