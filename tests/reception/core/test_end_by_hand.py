"""EndByHand through decide(): a human session or a wait in the pool asks WeCom to end it
(trans → 4) and waits for the answer; an AI session, an ended one or one with a transfer on its
way is left alone, with a timeline note saying the end was refused."""

from __future__ import annotations

import pytest

from kefu.reception.core import EndByHand, Transition

from .helpers import T0, mirror, run, summaries


@pytest.mark.parametrize("wecom_state", [2, 3])
def test_a_human_session_or_a_wait_ends_by_asking_wecom(wecom_state: int) -> None:
    decision = run(mirror(wecom_state), EndByHand(by="zhangsan"))
    assert summaries(decision) == [("transfer", 4, None)]
    pending = decision.state.pending_transition
    assert pending is not None and pending.target_state == 4
    assert decision.state.wecom_state == wecom_state  # until WeCom confirms


@pytest.mark.parametrize("wecom_state", [0, 1, 4])
def test_a_session_with_no_servicer_and_no_wait_is_not_ended(wecom_state: int) -> None:
    decision = run(mirror(wecom_state), EndByHand(by="zhangsan"))
    assert summaries(decision) == []
    assert [entry.kind for entry in decision.timeline] == ["end_refused"]


def test_a_transfer_on_its_way_comes_first() -> None:
    moving = Transition(target_state=3, servicer_userid="bob", session_no=1, at=T0)
    decision = run(mirror(3, pending_transition=moving), EndByHand(by="admin"))
    assert summaries(decision) == []
    assert decision.state.pending_transition == moving
