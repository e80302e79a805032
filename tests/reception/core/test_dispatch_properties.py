"""A dispatch round, pure, over random pools and rosters: never past a cap or to someone off duty,
first come first served among equally eligible customers, a reserved customer only to their
servicer, and no customer placed twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.accounts.settings_types import AccountSettingsData
from kefu.ai.settings import AISettings
from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    Dispatch,
    Roster,
    ServicerLoad,
    Transfer,
    decide,
)
from kefu.reception.core import dispatch as dispatch_module
from kefu.reception.core.dispatch import WaitingCustomer, after_assigning, plan_round

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
ALL_DAY = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def account(rule: str, fallback: str = "next") -> AccountSettings:
    data = AccountSettingsData.model_validate(
        {
            "hours": {"weekly": ALL_DAY, "statutory_holidays": False},
            "routing": {"rules": [{"rule": rule, "when_unavailable": fallback}]},
        }
    )
    return AccountSettings.from_config(data, AISettings(), enabled=True)


def waiting(key: int, reserved_for: str | None = None) -> WaitingCustomer:
    """A customer in the pool since `key` minutes before now (a lower key came first)."""
    since = NOW - timedelta(minutes=100 - key)
    state = ConversationState(
        wecom_state=2,
        owner="pool",
        session_no=1,
        session_started_at=since - timedelta(seconds=5),
        last_customer_message_at=since,
        queued_at=since,
        reserved_for=reserved_for,
    )
    return WaitingCustomer(key, state)


servicers_st = st.lists(
    st.builds(
        lambda i, sessions, cap, on: ServicerLoad(
            userid=f"s{i}", on_duty=on, active_sessions=sessions, max_sessions=cap
        ),
        i=st.integers(0, 5),
        sessions=st.integers(0, 4),
        cap=st.integers(1, 4),
        on=st.booleans(),
    ),
    max_size=5,
    unique_by=lambda s: s.userid,
)


@settings(max_examples=150, deadline=None)
@given(people=servicers_st, n_waiting=st.integers(0, 12), rule=st.sampled_from(["idle", "round_robin"]))
def test_first_come_first_served_within_the_caps(
    people: list[ServicerLoad], n_waiting: int, rule: str
) -> None:
    roster = Roster(servicers=tuple(people))
    picks = plan_round([waiting(k) for k in range(n_waiting)], account(rule), roster, NOW)
    keys = [key for key, _ in picks]
    assert keys == list(range(len(keys)))  # a prefix of the queue: nobody overtaken
    assert len(set(keys)) == len(keys)  # nobody placed twice
    given_to = Counter(servicer for _, servicer in picks)
    by_id = {p.userid: p for p in people}
    for userid, n in given_to.items():
        assert by_id[userid].on_duty
        assert by_id[userid].active_sessions + n <= by_id[userid].max_sessions  # never past a cap
    room = sum(max(0, p.max_sessions - p.active_sessions) for p in people if p.on_duty)
    if rule == "idle":  # idle fills every free place before leaving anyone waiting
        assert len(picks) == min(n_waiting, room)


@settings(max_examples=100, deadline=None)
@given(people=servicers_st, reserved=st.lists(st.sampled_from([None, "s0", "s1", "s9"]), max_size=10))
def test_a_reserved_customer_goes_only_to_their_servicer(
    people: list[ServicerLoad], reserved: list[str | None]
) -> None:
    roster = Roster(servicers=tuple(people))
    line = [waiting(k, r) for k, r in enumerate(reserved)]
    picks = dict(plan_round(line, account("idle"), roster, NOW))
    by_id = {p.userid: p for p in people}
    for customer in line:
        wanted = customer.state.reserved_for
        if customer.key not in picks or wanted is None:
            continue
        if wanted in by_id and by_id[wanted].on_duty:
            assert picks[customer.key] == wanted  # they wait for that one servicer only
        # a reservation whose servicer is off duty or gone falls back by the rules (any servicer)


def every_customer_decided(
    line: list[WaitingCustomer], settings: AccountSettings, roster: Roster
) -> list[tuple[int, str]]:
    """The round as it was before it stopped at a full house: a decision for everyone in line."""
    picks: list[tuple[int, str]] = []
    for customer in line:
        trial = roster.model_copy(update={"exclusive_userid": customer.exclusive_userid})
        decision = decide(customer.state, Dispatch(), settings, trial, NOW)
        target = next((a for a in decision.actions if isinstance(a, Transfer) and a.target_state == 3), None)
        if target is None or target.servicer_userid is None:
            continue
        picks.append((customer.key, target.servicer_userid))
        roster = after_assigning(roster, target.servicer_userid, decision.actions)
    return picks


@settings(max_examples=150, deadline=None)
@given(
    people=servicers_st,
    line=st.lists(
        st.tuples(st.sampled_from([None, "s0", "s1", "s9"]), st.sampled_from([None, "s0", "s2"])), max_size=12
    ),
    rule=st.sampled_from(["idle", "round_robin", "exclusive"]),
    fallback=st.sampled_from(["next", "wait"]),
)
def test_stopping_once_nobody_has_room_places_exactly_the_same_customers(
    people: list[ServicerLoad], line: list[tuple[str | None, str | None]], rule: str, fallback: str
) -> None:
    roster = Roster(servicers=tuple(people))
    customers = [
        WaitingCustomer(k, waiting(k, reserved).state, exclusive)
        for k, (reserved, exclusive) in enumerate(line)
    ]
    settings_ = account(rule, fallback)
    assert plan_round(customers, settings_, roster, NOW) == every_customer_decided(
        customers, settings_, roster
    )


def test_a_full_house_ends_the_round_without_deciding_for_the_rest_of_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Counter[str]()
    real = dispatch_module.decide

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["decide"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatch_module, "decide", counted)
    people = (
        ServicerLoad(userid="s0", on_duty=True, active_sessions=1, max_sessions=2),
        ServicerLoad(userid="s1", on_duty=True, active_sessions=2, max_sessions=2),
        ServicerLoad(userid="s2", on_duty=False, active_sessions=0, max_sessions=2),
    )
    picks = plan_round([waiting(k) for k in range(1_000)], account("idle"), Roster(servicers=people), NOW)
    assert picks == [(0, "s0")]
    assert calls["decide"] == 1  # s0's one free place taken: nobody on duty has room for the other 999
