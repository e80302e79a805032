"""Routing's records: the round-robin pointer, decisions with their explanation. Helpers take
the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.routing.core import RoutingDecision, Step
from kefu.routing.models import RoundRobinPointer, RoutingDecisionRow


def round_robin_last(session: Session, account_id: int, *, for_update: bool = False) -> str | None:
    """Whom the account's rotation gave last. `for_update` (PostgreSQL) holds the row, so two
    decisions of one account take turns one after the other."""
    query = select(RoundRobinPointer.last_userid).where(RoundRobinPointer.account_id == account_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def record_decision(
    session: Session,
    *,
    account_id: int,
    conversation_id: int,
    session_no: int,
    decision: RoutingDecision,
    reason: str,
    now: datetime,
) -> RoutingDecisionRow:
    """Keep the decision and, when the rotation turned, its new pointer."""
    row = RoutingDecisionRow(
        account_id=account_id,
        conversation_id=conversation_id,
        session_no=session_no,
        decided_at=now,
        reason=reason[:32],
        outcome=decision.outcome,
        rule=decision.rule,
        servicer_userid=decision.userid,
        explanation=decision.explain(),
        steps=[step.model_dump(mode="json") for step in decision.steps],
        over_cap=decision.over_cap,
    )
    session.add(row)
    if decision.round_robin_last is not None:
        pointer = session.get(RoundRobinPointer, account_id)
        if pointer is None:
            session.add(
                RoundRobinPointer(
                    account_id=account_id, last_userid=decision.round_robin_last, updated_at=now
                )
            )
        elif pointer.last_userid != decision.round_robin_last:
            pointer.last_userid, pointer.updated_at = decision.round_robin_last, now
    session.flush()
    return row


async def decisions_of(session: AsyncSession, conversation_id: int) -> list[RoutingDecisionRow]:
    query = (
        select(RoutingDecisionRow)
        .where(RoutingDecisionRow.conversation_id == conversation_id)
        .order_by(RoutingDecisionRow.id)
    )
    return list((await session.scalars(query)).all())


async def over_cap_decisions(
    session: AsyncSession, account_id: int, limit: int = 500
) -> list[RoutingDecisionRow]:
    query = (
        select(RoutingDecisionRow)
        .where(RoutingDecisionRow.account_id == account_id, RoutingDecisionRow.over_cap.is_(True))
        .order_by(RoutingDecisionRow.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


def explained(row: RoutingDecisionRow, name_of: Callable[[str], str], locale: Literal["zh", "en"]) -> str:
    """A kept decision in the reader's language, naming servicers as the reader knows them now;
    the line kept at decision time (Chinese) when its steps do not read back."""
    try:
        steps = [Step.model_validate(step) for step in row.steps]
        decision = RoutingDecision.model_validate(
            {
                "outcome": row.outcome,
                "steps": steps,
                "over_cap": row.over_cap,
                "names": {step.userid: name_of(step.userid) for step in steps if step.userid},
            }
        )
    except ValidationError:
        return row.explanation
    return decision.explain(locale) if steps else row.explanation
