"""The state check: ask WeCom about sessions Kefu may be wrong about, so no servicer's load is
held by a session that is over or a transfer that never happened.

Every `KEFU_POLL_INTERVAL_S` (beside the dispatch sweep) it feeds `CheckState` to:
- human sessions with no event for `KEFU_RECONCILE_HUMAN_AFTER_H` hours (default 12): WeCom ends
  a session 48 h after its last event and says nothing, so Kefu would count it as load forever;
- conversations whose transfer's delivery job ended without an outcome (out of attempts, or
  reaped from a dead worker): the servicer it reserved is held until WeCom says how it stands.

Leases, not the domain clock, decide when a delivery is dead (see jobs/store.py), so moving the
clock neither abandons a transfer in flight nor keeps a dead one. decide() answers with a
`Reconcile` (service_state/get), queued behind anything still pending for the conversation.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from kefu.jobs.periodic import run_every_poll_interval
from kefu.reception import service
from kefu.reception.core import CheckState
from kefu.reception.core.state import STATE_HUMAN
from kefu.reception.models import Conversation, ConversationAction
from kefu.reception.shell import add_feed
from kefu.runtime import Runtime

BATCH = 500  # per sweep: a backlog is worked through over the next sweeps


async def sweep(rt: Runtime) -> int:
    """Feed `CheckState` to every conversation that needs it now; returns how many."""
    now = rt.clock.now()
    quiet_since = now - timedelta(hours=rt.settings.reconcile_human_after_h)
    async with rt.db.write() as session:
        quiet = (
            await session.scalars(
                select(Conversation)
                .where(Conversation.wecom_state == STATE_HUMAN, Conversation.updated_at < quiet_since)
                .order_by(Conversation.updated_at)
                .limit(BATCH)
            )
        ).all()
        found = (
            await session.execute(
                select(ConversationAction, Conversation)
                .join(Conversation, Conversation.id == ConversationAction.conversation_id)
                .where(ConversationAction.status == "pending", ConversationAction.kind == "transfer")
                .limit(BATCH)
            )
        ).all()
        transfers = [transfer for transfer, _ in found]
        statuses = await session.run_sync(service.settled_statuses, transfers, [c for _, c in found])
        checked = {c.id: c for c in quiet}
        for transfer, conversation in found:
            if statuses[transfer.id] != "pending":
                checked.setdefault(conversation.id, conversation)
        for conversation in checked.values():
            await session.run_sync(service.settle_orphaned_actions, conversation, now=now)
            conversation.updated_at = now  # checked: quiet again only after another spell
            await session.run_sync(add_feed, conversation, conversation.account_id, CheckState(), now=now)
    return len(checked)


async def run_state_check(rt: Runtime, stop: asyncio.Event) -> None:
    await run_every_poll_interval(rt, stop, sweep, name="reception.state_check")
