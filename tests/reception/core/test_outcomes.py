"""Outcomes fed back by the shell: refused sends reconcile (never a blind resend), WeCom's state wins,
refused transfers fall back; and the mirror's gates on send_msg."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    EventCode,
    Inbound,
    Reconciled,
    RecordRouting,
    SendRefused,
    SessionStatusChange,
    TransferDone,
    TransferRefused,
    Transition,
    wants_ai_answer,
)

from .helpers import (
    DEFAULT,
    EVENING,
    NEXT_MORNING,
    SERVICERS,
    T0,
    answer,
    check_state,
    mirror,
    run,
    run_all,
    settings,
    summaries,
    text,
)

ONLY_ALICE = SERVICERS[:1]
LATE = settings(hours={"off_hours_message": {"mode": "fixed", "text": "下班了"}})


def pending(target: int, servicer: str | None = None) -> Transition:
    return Transition(target_state=target, servicer_userid=servicer, session_no=1, at=T0)  # type: ignore[arg-type]


@dataclass
class Row:
    given: ConversationState
    inbound: Inbound
    expect: list[tuple[Any, ...]]
    state: dict[str, Any] = field(default_factory=dict)
    account: AccountSettings = DEFAULT
    servicers: list[Any] = field(default_factory=lambda: SERVICERS)


ROWS = {
    # --- refused sends ----------------------------------------------------------------------
    "95018 (state does not allow sending): recorded, reconcile": Row(
        mirror(1), SendRefused(action_kind="send", errcode=95018, purpose="ai_answer"), [("reconcile",)]
    ),
    "95001 (over 5): no more sends until the customer writes; reconcile": Row(
        mirror(1),
        SendRefused(action_kind="send", errcode=95001),
        [("reconcile",)],
        {"sends_since_customer_message": 5},
    ),
    "95002 (48 h passed): no more sends until the customer writes; reconcile": Row(
        mirror(1), SendRefused(action_kind="send", errcode=95002), [("reconcile",)], {"window_refused": True}
    ),
    "another send error (45002) is recorded only": Row(
        mirror(1), SendRefused(action_kind="send", errcode=45002), []
    ),
    "an event-code send refused: skipped, never retried": Row(
        mirror(2), SendRefused(action_kind="send_on_event", errcode=95007), []
    ),
    # --- reconciled: WeCom wins -------------------------------------------------------------
    "reconciled 3: a human holds it": Row(
        mirror(1),
        Reconciled(wecom_state=3, servicer_userid="bob"),
        [],
        {"wecom_state": 3, "servicer_userid": "bob"},
    ),
    "reconciled 4: the session had ended": Row(
        mirror(1), Reconciled(wecom_state=4), [], {"wecom_state": 4, "session_no": 1, "owner": "none"}
    ),
    "reconciled 1 while the mirror said ended: a session we did not see start": Row(
        ConversationState(session_no=3), Reconciled(wecom_state=1), [], {"wecom_state": 1, "session_no": 4}
    ),
    "reconciled, agreeing: nothing": Row(mirror(1), Reconciled(wecom_state=1), [], {"wecom_state": 1}),
    "reconciled to the pending target: the trans went through": Row(
        mirror(1, pending_transition=pending(2)),
        Reconciled(wecom_state=2),
        [],
        {"wecom_state": 2, "pending_transition": None},
    ),
    "reconciled after a refused request for a human: asked once more": Row(
        mirror(1, refused_requests=1),
        Reconciled(wecom_state=1),
        [("transfer", 3, "alice")],
        {"refused_requests": 1},
    ),
    "reconciled while the customer's own new request was on its way: not asked a second time": Row(
        mirror(1, refused_requests=1, pending_transition=pending(3, "alice")),
        Reconciled(wecom_state=1),
        [],
        {"refused_requests": 0, "pending_transition": None},
    ),
    # --- refused transfers ------------------------------------------------------------------
    "trans → 3 refused 95019 (servicer stopped): the next servicer": Row(
        mirror(1, pending_transition=pending(3, "alice")),
        TransferRefused(target_state=3, errcode=95019),
        [("transfer", 3, "bob")],
        {"refused_servicers": ["alice"]},
    ),
    "trans → 3 refused 95014 and nobody else: the pool": Row(
        mirror(1, pending_transition=pending(3, "alice")),
        TransferRefused(target_state=3, errcode=95014),
        [("transfer", 2, None)],
        servicers=ONLY_ALICE,
    ),
    "trans → 2 refused 95016: reconcile": Row(
        mirror(1, pending_transition=pending(2)),
        TransferRefused(target_state=2, errcode=95016),
        [("reconcile",)],
    ),
    "trans refused 95013 (session already ended): the mirror ends it": Row(
        mirror(1, pending_transition=pending(3, "alice")),
        TransferRefused(target_state=3, errcode=95013),
        [],
        {"wecom_state": 4, "pending_transition": None},
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_outcome(row: Row) -> None:
    decision = run(row.given, row.inbound, row.account, row.servicers, now=T0)
    assert summaries(decision) == row.expect
    check_state(decision.state, row.state)


def test_95018_then_reconciled_to_an_ai_state_never_resends() -> None:
    state, actions = run_all(
        mirror(1),
        [SendRefused(action_kind="send", errcode=95018, purpose="ai_answer"), Reconciled(wecom_state=1)],
    )
    assert actions == [("reconcile",)]
    assert state.wecom_state == 1


def test_a_take_in_the_app_found_by_reconciling_is_recorded_once_whichever_comes_first() -> None:
    """The reconcile after a 95018 and the servicer's take event race: both orders keep one
    routing record of the take, rule `app` (reports count who took the session)."""
    taken = SessionStatusChange(change_type=1, new_servicer_userid="alice", sent_at=T0)
    found = Reconciled(wecom_state=3, servicer_userid="alice")
    for inbounds in ([found, taken], [taken, found]):
        state, decisions = mirror(1), []
        for inbound in inbounds:
            decisions.append(run(state, inbound, now=T0))
            state = decisions[-1].state
        records = [a for d in decisions for a in d.actions if isinstance(a, RecordRouting)]
        assert [(r.decision.rule, r.decision.userid) for r in records] == [("app", "alice")]
        assert (decisions[-1].state.wecom_state, decisions[-1].state.servicer_userid) == (3, "alice")


def test_reconciled_decides_again_for_a_customer_waiting_for_opening() -> None:
    waiting = mirror(1, at=EVENING, waiting_for_opening=True, off_hours_notified=True)
    decision = run(waiting, Reconciled(wecom_state=1), LATE, now=NEXT_MORNING)
    assert summaries(decision) == [("transfer", 3, "alice")]


def test_human_only_transfer_refused_falls_back_then_done() -> None:
    account = settings(reception={"mode": "human_only"})
    state, actions = run_all(
        mirror(0, pending_transition=pending(3, "alice")),
        [TransferRefused(target_state=3, errcode=95019), TransferDone(target_state=3, servicer_userid="bob")],
        account,
    )
    assert actions == [("transfer", 3, "bob")]
    assert (state.wecom_state, state.servicer_userid, state.refused_servicers) == (3, "bob", [])


# --- the mirror's gates on send_msg ----------------------------------------------------------


def test_no_send_past_the_48_hour_window() -> None:
    """A message written 48 h ago, processed now: WeCom would answer 95002, so nothing goes out."""
    long_ago = T0 - timedelta(hours=48, minutes=1)
    given = mirror(1, at=long_ago, session_started_at=T0 - timedelta(hours=1))  # a session re-taken lately
    late = text(at=long_ago, ai=answer())
    decision = run(given, late, now=T0)
    assert summaries(decision) == []
    assert decision.state.sends_left(T0) == 0
    assert decision.state.sends_left(long_ago + timedelta(minutes=1)) == 5
    assert not wants_ai_answer(given, late, DEFAULT, T0)


def test_no_sixth_send_for_one_customer_message() -> None:
    given = mirror(1, sends_since_customer_message=5)
    assert given.sends_left(T0) == 0
    decision = run(given, TransferDone(target_state=2, msg_code=None))
    assert decision.state.sends_since_customer_message == 5


def test_a_send_in_state_0_moves_the_mirror_to_1() -> None:
    decision = run(mirror(0), text(ai=answer()))
    assert summaries(decision) == [("send", "ai_answer")]
    assert (decision.state.wecom_state, decision.state.owner) == (1, "ai")
    assert [e.kind for e in decision.timeline] == ["state_changed"]


def test_a_code_lives_only_in_its_issuing_state_and_session_until_it_expires() -> None:
    pool_code = EventCode(
        code="P", kind="pool", issued_in_state=2, session_no=1, expires_at=T0 + timedelta(hours=48)
    )
    welcome = EventCode(
        code="W", kind="welcome", issued_in_state=4, session_no=0, expires_at=T0 + timedelta(seconds=20)
    )
    queued = mirror(2, codes=[pool_code, welcome])
    assert queued.live_code("pool", T0) == pool_code
    assert queued.model_copy(update={"wecom_state": 3}).live_code("pool", T0) is None  # left the pool
    assert queued.model_copy(update={"session_no": 2}).live_code("pool", T0) is None  # another session
    assert queued.live_code("pool", T0 + timedelta(hours=48)) is None  # expired
    assert (
        queued.model_copy(update={"codes": [pool_code.model_copy(update={"used": True})]}).live_code(
            "pool", T0
        )
        is None
    )
    assert queued.live_code("welcome", T0) == welcome  # a welcome is not bound to a state
    assert queued.live_code("welcome", T0 + timedelta(seconds=20)) is None
