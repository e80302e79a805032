"""REST: /api/v1/conversations — the conversations Kefu mirrors and their transcripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kefu.api.auth import require_token
from kefu.api.deps import IdPath, IdQuery, RuntimeDep
from kefu.api.routes import ApiRoute
from kefu.errors import NotFound
from kefu.reception import service
from kefu.reception.models import Conversation
from kefu.reception.schemas import ConversationDetail, ConversationOut

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
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ConversationOut]:
    """Most recently active first; filter by account and by WeCom session state."""
    async with rt.db.read() as session:
        rows = await service.list_conversations(
            session, account_id=account_id, wecom_state=wecom_state, limit=limit, offset=offset
        )
    return [ConversationOut.model_validate(row) for row in rows]


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(conversation_id: IdPath, rt: RuntimeDep) -> ConversationDetail:
    """The conversation, its mirror of WeCom's session, and its transcript in order: customer,
    servicer and Kefu messages, state changes, failed or refused actions, ratings."""
    async with rt.db.read() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound(f"no conversation with id {conversation_id}")
        items = await service.transcript(session, conversation)
    return ConversationDetail(
        conversation=ConversationOut.model_validate(conversation),
        state=conversation.state,
        transcript=items,
    )
