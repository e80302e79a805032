"""Hypothesis: random customers, servicers, timers and WeCom answers through decide().

Properties (issue 4, Done when): never a send_msg in states 2/3/4; an event-code
send only with a live code in its issuing state; never more than 5 send_msg per
customer message; never an AI answer to origin 4/5 or to a rating click (and the
AI is asked exactly when decide uses it); at most one ending/survey message per
ended session, exactly one when a live code arrived and either mode is not none.
The checks live in `world.Harness.check`, against WeCom's truth at each decision.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kefu.reception.core import ConversationState, CustomerNonText, CustomerText, ServicerLoad

from .helpers import EVENING, NATIONAL_DAY, T0
from .helpers import settings as account_settings
from .world import Harness

MESSAGE = st.sampled_from([{"mode": "none"}, {"mode": "ai"}, {"mode": "fixed", "text": "固定文字"}])
SURVEY = st.sampled_from(
    [
        {"mode": "none"},
        {
            "mode": "fixed",
            "text": "请评价",
            "options": [{"label": "满意", "score": 100}, {"label": "一般", "score": 50}],
        },
        {"mode": "ai", "options": [{"label": "好", "score": 5}]},
    ]
)
ALL_WEEK = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@st.composite
def accounts(draw: st.DrawFn) -> Any:
    hours: dict[str, Any] = {
        "off_hours_message": draw(MESSAGE),
        "wait_for_opening": draw(st.booleans()),
    }
    if draw(st.booleans()):
        hours["weekly"] = ALL_WEEK
    return account_settings(
        enabled=draw(st.sampled_from([True, True, True, False])),
        reception={
            "mode": draw(st.sampled_from(["ai_first", "ai_first", "ai_only", "human_only"])),
            "keyword_transfer": {"enabled": draw(st.booleans()), "keywords": ["转人工", "vip"]},
            "button_transfer": {"enabled": draw(st.booleans())},
            "not_sure_streak": {"enabled": draw(st.booleans()), "count": draw(st.integers(1, 3))},
            "non_text_reply": draw(MESSAGE),
        },
        hours=hours,
        queue={"pool_notice": draw(MESSAGE), "taken_notice": draw(MESSAGE)},
        messages={
            "welcome": draw(MESSAGE),
            "ending": draw(MESSAGE),
            "survey": draw(SURVEY),
            "paused": draw(MESSAGE),
        },
        session={"ai_idle_timeout_minutes": draw(st.sampled_from([None, 10]))},
    )


SERVICER_SETS = [
    [
        ServicerLoad(userid="alice", on_duty=True, active_sessions=0, max_sessions=2),
        ServicerLoad(userid="bob", on_duty=True, active_sessions=1, max_sessions=2),
    ],
    [ServicerLoad(userid="alice", on_duty=False, active_sessions=0, max_sessions=2)],
    [
        ServicerLoad(userid="alice", on_duty=True, active_sessions=2, max_sessions=2),
        ServicerLoad(userid="bob", on_duty=True, active_sessions=0, max_sessions=2),
    ],
]
STEPS = [
    "text",
    "text",
    "text",
    "non_text",
    "enter",
    "servicer",
    "servicer",
    "event",
    "wait",
    "deliver",
    "deliver",
]
WAITS = [
    timedelta(seconds=5),
    timedelta(seconds=25),
    timedelta(minutes=11),
    timedelta(hours=3),
    timedelta(hours=49),
]


ON = st.sampled_from([{"mode": "ai"}, {"mode": "fixed", "text": "固定文字"}])
SURVEY_ON = SURVEY.filter(lambda survey: survey["mode"] != "none")
HANDOFF_STEPS = [
    "text",
    "text",
    "servicer",
    "servicer",
    "servicer",
    "event",
    "deliver",
    "deliver",
    "deliver",
    "wait",
]


@st.composite
def handoff_accounts(draw: st.DrawFn) -> Any:
    """Open all week, messages on: the runs spend their time in pools, human sessions and endings."""
    return account_settings(
        reception={
            "mode": draw(st.sampled_from(["ai_first", "human_only"])),
            "keyword_transfer": {"enabled": True},
        },
        hours={"weekly": ALL_WEEK},
        queue={"pool_notice": draw(ON), "taken_notice": draw(ON)},
        messages={"welcome": draw(ON), "ending": draw(MESSAGE), "survey": draw(SURVEY_ON)},
        session={"ai_idle_timeout_minutes": 10},
    )


def run_steps(world: Harness, steps: list[tuple[str, int]]) -> None:
    for step, pick in steps:
        match step:
            case "text":
                world.customer_writes(CustomerText, pick)
            case "non_text":
                world.customer_writes(CustomerNonText, pick)
            case "enter":
                world.enter()
            case "servicer":
                world.servicer_acts(pick)
            case "event":
                world.other_event(pick)
            case "wait":
                world.now += WAITS[pick % len(WAITS)]
            case "deliver":
                for _ in range(1 + pick % 3):
                    world.deliver()
        # The shell's stored state always survives its JSON round trip.
        assert ConversationState.from_json(world.kefu.to_json()) == world.kefu
    while world.queue:
        world.deliver()
    for what in world.seen:
        event(what)  # shown by --hypothesis-show-statistics: the runs reach every rule
    for session, due in world.endings_due.items():
        if due:
            assert world.ending_sends[session] == 1, f"no ending message for session {session}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    account=accounts(),
    servicers=st.sampled_from(SERVICER_SETS),
    allow_unconfirmed=st.booleans(),
    omit_codes=st.sampled_from([False, False, True]),
    refusing=st.sampled_from([None, None, "alice"]),
    start=st.sampled_from([T0, EVENING, NATIONAL_DAY]),
    steps=st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 1000)), min_size=10, max_size=60),
)
def test_random_conversations_keep_every_property(
    account: Any,
    servicers: list[ServicerLoad],
    allow_unconfirmed: bool,
    omit_codes: bool,
    refusing: str | None,
    start: datetime,
    steps: list[tuple[str, int]],
) -> None:
    world = Harness(
        account=account,
        servicers=servicers,
        now=start,
        allow_unconfirmed=allow_unconfirmed,
        omit_codes=omit_codes,
        refusing=refusing,
    )
    run_steps(world, steps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    account=handoff_accounts(),
    servicers=st.sampled_from(SERVICER_SETS),
    allow_unconfirmed=st.booleans(),
    refusing=st.sampled_from([None, "alice"]),
    steps=st.lists(st.tuples(st.sampled_from(HANDOFF_STEPS), st.integers(0, 1000)), min_size=10, max_size=60),
)
def test_human_handoffs_keep_every_property(
    account: Any,
    servicers: list[ServicerLoad],
    allow_unconfirmed: bool,
    refusing: str | None,
    steps: list[tuple[str, int]],
) -> None:
    world = Harness(
        account=account, servicers=servicers, now=T0, allow_unconfirmed=allow_unconfirmed, refusing=refusing
    )
    run_steps(world, steps)
