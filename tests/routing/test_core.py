"""The rule chain, pure: every rule with each fallback over each servicer state, explanations,
and properties over random rosters and sequences of assignments."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.accounts.settings_types import RoutingRule
from kefu.routing.core import Roster, ServicerLoad, by_person, choose

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
State = Literal["room", "full", "off", "absent", "refused"]


def load(userid: str, sessions: int = 0, cap: int = 3, on: bool = True, **extra: object) -> ServicerLoad:
    return ServicerLoad(userid=userid, on_duty=on, active_sessions=sessions, max_sessions=cap, **extra)


def rules(*spec: str) -> list[RoutingRule]:
    """rules("exclusive:wait", "idle") — a rule, with `:wait` when it waits."""
    out = []
    for item in spec:
        name, _, fallback = item.partition(":")
        out.append(RoutingRule.model_validate({"rule": name, "when_unavailable": fallback or "next"}))
    return out


def with_named(state: State) -> tuple[Roster, list[str]]:
    """A roster where the named servicer `zhang` is in `state`; `li` always has room."""
    zhang = {
        "room": load("zhang", 1),
        "full": load("zhang", 3),
        "off": load("zhang", 0, on=False),
        "refused": load("zhang", 0),
    }.get(state)
    people = tuple(p for p in (zhang, load("li", 2)) if p is not None)
    return Roster(servicers=people, exclusive_userid="zhang"), ["zhang"] if state == "refused" else []


# What each named rule (exclusive or last) does with its servicer in each state, per fallback.
NAMED: dict[tuple[State, str], tuple[str, str | None]] = {
    ("room", "next"): ("assign", "zhang"),
    ("room", "wait"): ("assign", "zhang"),
    ("full", "next"): ("assign", "li"),
    ("full", "wait"): ("wait", "zhang"),
    ("off", "next"): ("assign", "li"),
    ("off", "wait"): ("wait", "zhang"),
    ("absent", "next"): ("assign", "li"),  # not in the list: never waited for
    ("absent", "wait"): ("assign", "li"),
    ("refused", "next"): ("assign", "li"),  # WeCom refused them for this session
    ("refused", "wait"): ("assign", "li"),
}


@pytest.mark.parametrize(("state", "fallback"), sorted(NAMED))
@pytest.mark.parametrize("rule", ["exclusive", "last"])
def test_named_rules_for_every_state_and_fallback(rule: str, state: State, fallback: str) -> None:
    roster, exclude = with_named(state)
    last = "zhang" if rule == "last" else None
    if rule == "last":
        roster = roster.model_copy(update={"exclusive_userid": None})
    decision = choose(rules(f"{rule}:{fallback}", "idle"), roster, last_userid=last, exclude=exclude)
    assert (decision.outcome, decision.userid) == NAMED[(state, fallback)]
    assert decision.rule == (rule if decision.userid == "zhang" else "idle")


@pytest.mark.parametrize("fallback", ["next", "wait"])
def test_a_named_rule_with_nobody_named_goes_on(fallback: str) -> None:
    roster = Roster(servicers=(load("li"),))
    decision = choose(rules(f"exclusive:{fallback}", f"last:{fallback}", "idle"), roster)
    assert (decision.outcome, decision.userid, decision.rule) == ("assign", "li", "idle")
    assert [s.verdict for s in decision.steps] == ["none_set", "none_set", "chosen"]


def test_idle_takes_the_fewest_sessions_then_idle_longest_then_the_order() -> None:
    early, late = T0 - timedelta(hours=2), T0 - timedelta(minutes=5)
    roster = Roster(
        servicers=(
            load("a", 2),
            load("b", 1, idle_since=late),
            load("c", 1, idle_since=early),
            load("d", 1, idle_since=early),
        )
    )
    assert choose(rules("idle"), roster).userid == "c"  # fewest, then longest idle, then first
    never_served = roster.model_copy(update={"servicers": (*roster.servicers, load("e", 1))})
    assert choose(rules("idle"), never_served).userid == "e"  # never served counts as longest idle
    shanghai = timezone(timedelta(hours=8))
    instants = Roster(
        servicers=(
            load("f", 1, idle_since=T0),  # 02:00 UTC
            load("g", 1, idle_since=(T0 - timedelta(minutes=30)).astimezone(shanghai)),  # 09:30 in Shanghai
        )
    )
    assert choose(rules("idle"), instants).userid == "g"  # idle longer: instants count, not clock faces


def test_idle_with_nobody_with_room_waits_in_the_pool_or_goes_on() -> None:
    roster = Roster(servicers=(load("a", 3), load("b", 0, on=False)))
    waited = choose(rules("idle:wait", "round_robin"), roster)
    assert (waited.outcome, waited.userid, waited.rule) == ("pool", None, "idle")  # anyone, later
    went_on = choose(rules("idle", "round_robin"), roster)  # round robin's turn: a, at the cap
    assert (went_on.outcome, went_on.rule, went_on.round_robin_last) == ("pool", None, "a")


def test_round_robin_rotates_in_order_skipping_off_duty_and_refused() -> None:
    people = (load("a"), load("b", on=False), load("c"), load("d"))
    roster = Roster(servicers=people)
    given_out = []
    for _ in range(6):
        decision = choose(rules("round_robin"), roster, exclude={"d"})
        given_out.append(decision.userid)
        roster = roster.model_copy(update={"round_robin_last": decision.round_robin_last})
    assert given_out == ["a", "c", "a", "c", "a", "c"]


def test_round_robin_ignores_load_and_a_capped_turn_falls_back_but_still_turns() -> None:
    roster = Roster(servicers=(load("a", 0), load("b", 3), load("c", 2)), round_robin_last="a")
    decision = choose(rules("round_robin", "idle"), roster)
    assert (decision.outcome, decision.userid, decision.rule) == ("assign", "a", "idle")
    assert decision.round_robin_last == "b"  # b's turn was spent even though b was full
    waited = choose(rules("round_robin:wait"), roster)
    assert (waited.outcome, waited.userid, waited.round_robin_last) == ("wait", "b", "b")
    after = choose(rules("round_robin"), roster.model_copy(update={"round_robin_last": "b"}))
    assert (after.userid, after.round_robin_last) == ("c", "c")  # load ignored: c has 2, a 0


def test_a_pointer_no_longer_in_the_list_starts_from_the_top() -> None:
    roster = Roster(servicers=(load("a"), load("b")), round_robin_last="gone")
    assert choose(rules("round_robin"), roster).userid == "a"


def test_after_the_last_rule_the_pool() -> None:
    decision = choose(rules("exclusive", "idle"), Roster(servicers=(load("a", on=False),)))
    assert (decision.outcome, decision.userid, decision.rule) == ("pool", None, None)
    assert decision.explain() == "专属客服：未设置 → 空闲接待：没有可接待的人员 → 进入排队池"


def test_explanations_read_as_one_line() -> None:
    roster = Roster(
        servicers=(load("zhangsan", 0, on=False, name="张三"), load("lisi", 2, name="李四")),
        exclusive_userid="zhangsan",
    )
    decision = choose(rules("exclusive", "idle"), roster)
    assert decision.explain() == "专属客服：张三不在接待中 → 空闲接待 → 李四（当前 2 个会话）"
    english = "exclusive servicer: 张三 is not receiving → idle → 李四 (sessions now: 2)"
    assert decision.explain("en") == english
    waited = choose(rules("exclusive:wait"), roster)
    assert waited.explain() == "专属客服：张三不在接待中 → 等待张三"


# --- properties ------------------------------------------------------------------------------

servicer_st = st.builds(
    load,
    userid=st.sampled_from(["a", "b", "c", "d", "e"]),
    sessions=st.integers(0, 5),
    cap=st.integers(1, 4),
    on=st.booleans(),
)
rule_st = st.lists(
    st.tuples(
        st.sampled_from(["exclusive", "last", "idle", "round_robin"]), st.sampled_from(["next", "wait"])
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda r: r[0],
)


@settings(max_examples=300, deadline=None)
@given(
    people=st.lists(servicer_st, max_size=5, unique_by=lambda s: s.userid),
    chain=rule_st,
    exclusive=st.sampled_from([None, "a", "b", "z"]),
    last=st.sampled_from([None, "a", "c", "z"]),
    pointer=st.sampled_from([None, "a", "d"]),
    exclude=st.sets(st.sampled_from(["a", "b", "c"])),
)
def test_never_assigns_over_a_cap_off_duty_or_refused(
    people: list[ServicerLoad],
    chain: list[tuple[str, str]],
    exclusive: str | None,
    last: str | None,
    pointer: str | None,
    exclude: set[str],
) -> None:
    roster = Roster(servicers=tuple(people), exclusive_userid=exclusive, round_robin_last=pointer)
    decision = choose(rules(*(f"{r}:{f}" for r, f in chain)), roster, last_userid=last, exclude=exclude)
    by_id = {p.userid: p for p in people}
    if decision.outcome == "assign":
        chosen = by_id[decision.userid]  # always someone in the list
        assert chosen.on_duty and chosen.has_room and chosen.userid not in exclude
    if decision.outcome == "wait":
        assert decision.userid in by_id and decision.userid not in exclude
    if decision.outcome == "pool":
        assert decision.userid is None
    assert decision.explain()  # every decision explains itself


@settings(max_examples=200, deadline=None)
@given(n_people=st.integers(1, 6), turns=st.integers(1, 40), first=st.integers(0, 5))
def test_round_robin_counts_differ_by_at_most_one_while_all_are_eligible(
    n_people: int, turns: int, first: int
) -> None:
    people = tuple(load(f"s{i}", cap=1000) for i in range(n_people))
    roster = Roster(servicers=people, round_robin_last=people[first % n_people].userid)
    counts: Counter[str] = Counter()
    for _ in range(turns):
        decision = choose(rules("round_robin"), roster)
        assert decision.outcome == "assign" and decision.userid is not None
        counts[decision.userid] += 1
        people = tuple(
            p.model_copy(update={"active_sessions": p.active_sessions + 1})
            if p.userid == decision.userid
            else p
            for p in people
        )
        roster = Roster(servicers=people, round_robin_last=decision.round_robin_last)
    shares = [counts[p.userid] for p in people]
    assert max(shares) - min(shares) <= 1


def test_a_take_by_hand_past_the_cap_is_allowed_and_flagged_a_hand_over_is_not_allowed() -> None:
    roster = Roster(servicers=(load("zhang", 3), load("li", 1)))
    take = by_person(roster, "zhang", rule="manual")
    assert (take.outcome, take.userid, take.over_cap) == ("assign", "zhang", True)
    assert take.explain("en").endswith("over the cap")
    assert by_person(roster, "li", rule="manual").over_cap is False
    assert by_person(roster, "zhang", rule="handover").outcome == "pool"
