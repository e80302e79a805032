"""Retention: the bodies of messages older than `KEFU_RETAIN_MESSAGE_DAYS` are deleted.

What customers, servicers and Kefu wrote is personal data a company may keep only so long. The
message rows stay (who, when, type, origin: every count and report still adds up) with their
body replaced by a marker; so do the outbox rows of Kefu's delivered sends, which held the same
text (a send WeCom refused keeps its payload: it is shown as the failure it was).
Events keep their payload: ids and event types, no one's words. Runs every
`KEFU_POLL_INTERVAL_S` in batches, so a first run over a large backlog spreads over sweeps.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from kefu.ingest.models import Message
from kefu.jobs.periodic import run_every_poll_interval
from kefu.reception.models import ConversationAction
from kefu.runtime import Runtime

BATCH = 2000
WORDS = (0, 3, 5)  # Kefu, customer, servicer: origins whose payload is someone's words


def without_body(payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Keep only Kefu's own bookkeeping (`kefu`: which outbox row sent it)."""
    kept = {"kefu": payload["kefu"]} if "kefu" in payload else {}
    return {**kept, "body_deleted_at": at.isoformat()}


async def sweep(rt: Runtime) -> int:
    """Delete one batch of bodies past the retention; returns how many messages."""
    days = rt.settings.retain_message_days
    if days is None:
        return 0
    now = rt.clock.now()
    cutoff = now - timedelta(days=days)
    async with rt.db.write() as session:
        messages = (
            await session.scalars(
                select(Message)
                .where(
                    Message.body_deleted_at.is_(None), Message.send_time < cutoff, Message.origin.in_(WORDS)
                )
                .limit(BATCH)
            )
        ).all()
        for message in messages:
            message.payload = without_body(message.payload, now)
            message.body_deleted_at = now
        sent = [
            int(m.payload["kefu"]["action_id"]) for m in messages if "action_id" in m.payload.get("kefu", {})
        ]
        for action in await session.scalars(
            select(ConversationAction).where(ConversationAction.id.in_(sent))
        ):
            # The outbox row of a delivered send held the same words.
            action.payload = {"action": {"kind": action.kind}, "body_deleted_at": now.isoformat()}
    return len(messages)


async def run_retention(rt: Runtime, stop: asyncio.Event) -> None:
    await run_every_poll_interval(rt, stop, sweep, name="reception.retention")
