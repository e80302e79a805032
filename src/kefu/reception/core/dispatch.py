"""Whom a dispatch round tries, pure: the pool in queue order against the roster, loads growing
as customers are placed, so the round picks exactly those who fit now (kefu.reception.dispatch
runs it; each pick then decides again on fresh loads under its conversation's lock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kefu.reception.core.actions import Action, RecordRouting, Transfer
from kefu.reception.core.decide import decide
from kefu.reception.core.inbound import Dispatch
from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import ConversationState
from kefu.routing.core import Roster


@dataclass(frozen=True)
class WaitingCustomer:
    key: int  # the conversation's id
    state: ConversationState
    exclusive_userid: str | None = None


def plan_round(
    waiting: Sequence[WaitingCustomer], settings: AccountSettings, roster: Roster, now: datetime
) -> list[tuple[int, str]]:
    """(key, servicer) for each customer the round would place, oldest first. A customer who
    fits nobody now (waiting for a full servicer, say) does not hold back those behind.

    Once nobody on duty has room the round ends: routing assigns only a servicer on duty below
    their cap, so the rest of the line could only be turned away (a round over 10,000 waiting
    customers and 1,000 full servicers would otherwise run 10,000 routing decisions of 1,000
    servicers each, to place nobody)."""
    picks: list[tuple[int, str]] = []
    room = sum(1 for s in roster.servicers if s.on_duty and s.has_room)
    for customer in waiting:
        if room == 0:
            break
        trial = roster.model_copy(update={"exclusive_userid": customer.exclusive_userid})
        decision = decide(customer.state, Dispatch(), settings, trial, now)
        target = next((a for a in decision.actions if isinstance(a, Transfer) and a.target_state == 3), None)
        if target is None or target.servicer_userid is None:
            continue
        picks.append((customer.key, target.servicer_userid))
        roster = after_assigning(roster, target.servicer_userid, decision.actions)
        chosen = roster.find(target.servicer_userid)
        if chosen is not None and not chosen.has_room:
            room -= 1
    return picks


def after_assigning(roster: Roster, userid: str, actions: Sequence[Action]) -> Roster:
    """The roster as the next customer in the round sees it: one more session for `userid`, and
    the rotation turned if routing turned it."""
    pointer = roster.round_robin_last
    for action in actions:
        if isinstance(action, RecordRouting) and action.decision.round_robin_last is not None:
            pointer = action.decision.round_robin_last
    servicers = tuple(
        s.model_copy(update={"active_sessions": s.active_sessions + 1}) if s.userid == userid else s
        for s in roster.servicers
    )
    return roster.model_copy(update={"servicers": servicers, "round_robin_last": pointer})
