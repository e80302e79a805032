"""Whom a customer gets: the account's rule chain over the servicers' states and loads. Pure.

Given the rules (exclusive, last, idle, round robin — each with `when_unavailable` next|wait),
the roster (the account's servicers in its order, each with their load across the corp, the
customer's exclusive servicer, the round-robin pointer) and the customer's last servicer, `choose`
returns a `RoutingDecision`: assign a servicer, wait for one, or the pool — with every candidate
considered and why it was passed over, readable in one line (`explain`).

Only servicers who are on duty (WeCom 接待中) and in the account's list are eligible, and Kefu
never assigns a servicer at their cap. A rule that yields nobody falls through to the next; a
rule that yields a servicer who is off duty or full waits for them when it says `wait` (a
servicer not in the list, or one WeCom refused for this session, is never waited for). After
the last rule: the pool.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kefu.accounts.settings_types import RoutingRule

RuleName = Literal[
    "exclusive", "last", "idle", "round_robin", "reserved", "manual", "handover", "app", "line"
]
Outcome = Literal["assign", "wait", "pool"]
Verdict = Literal[
    "chosen",
    "waited_for",
    "none_set",
    "not_listed",
    "off_duty",
    "at_cap",
    "refused",
    "nobody",
    "others_waiting",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServicerLoad(_Frozen):
    """One servicer of the account as routing sees them right now."""

    userid: str = Field(min_length=1)
    on_duty: bool  # WeCom reception status 接待中
    active_sessions: int = Field(ge=0)  # human sessions now (and transfers on their way), across accounts
    max_sessions: int = Field(ge=1)  # the servicer's cap (override, else the account default)
    idle_since: AwareDatetime | None = None  # when their last session ended (ties in `idle`)
    name: str | None = None  # for explanations; the userid when unknown

    @property
    def has_room(self) -> bool:
        return self.active_sessions < self.max_sessions


class Roster(_Frozen):
    """Everything routing reads about the account's people, loaded together by the shell."""

    servicers: tuple[ServicerLoad, ...] = ()
    exclusive_userid: str | None = None  # the customer's exclusive servicer (CRM, else the mapping)
    round_robin_last: str | None = None  # whom the account's rotation gave last
    pool_length: int = Field(default=0, ge=0)  # customers of the account in the pool or on their way
    waiting_for_anyone: int = Field(default=0, ge=0)  # of them, those no rule reserved for one servicer

    def find(self, userid: str | None) -> ServicerLoad | None:
        return next((s for s in self.servicers if s.userid == userid), None) if userid else None


class Step(_Frozen):
    """One candidate a rule looked at, and what became of them."""

    rule: RuleName
    verdict: Verdict
    userid: str | None = None
    sessions: int | None = None  # their load when it mattered


class RoutingDecision(_Frozen):
    outcome: Outcome
    userid: str | None = None  # assign: the servicer; wait: whom the customer waits for
    rule: RuleName | None = None  # the rule that decided (None: the pool after the last rule)
    steps: tuple[Step, ...] = ()
    round_robin_last: str | None = None  # the rotation's pointer after this decision
    names: dict[str, str] = Field(default_factory=dict)  # userid → name, for `explain`
    # A person put the servicer past their cap (a take by hand, or a move in the WeCom app):
    # allowed, and flagged for reports. Kefu's own rules never do.
    over_cap: bool = False

    def explain(self, locale: Literal["zh", "en"] = "zh") -> str:
        """One line, e.g. 专属客服：张三不在接待中 → 空闲接待 → 李四（当前 2 个会话）."""
        return explain(self, locale)


def choose(
    rules: Sequence[RoutingRule],
    roster: Roster,
    *,
    last_userid: str | None = None,
    exclude: Collection[str] = (),
) -> RoutingDecision:
    """Try the rules in order; `exclude` holds servicers WeCom refused for this session."""
    steps: list[Step] = []
    pointer = roster.round_robin_last
    for rule in rules:
        name: RuleName = rule.rule
        if name in ("exclusive", "last"):
            wanted = roster.exclusive_userid if name == "exclusive" else last_userid
            found = _named(name, wanted, roster, exclude, steps)
        elif name == "idle":
            found = _idle(roster, exclude, steps)
        else:
            found, pointer = _round_robin(roster, exclude, steps, pointer)
        if found is not None and found.on_duty and found.has_room:
            steps.append(
                Step(rule=name, verdict="chosen", userid=found.userid, sessions=found.active_sessions)
            )
            return _decided("assign", found.userid, name, steps, pointer, roster)
        if rule.when_unavailable == "wait":
            if found is not None:  # a named servicer off duty or full: wait for them
                steps.append(Step(rule=name, verdict="waited_for", userid=found.userid))
                return _decided("wait", found.userid, name, steps, pointer, roster)
            if name in ("idle", "round_robin"):  # nobody with room now: wait in the pool for anyone
                return _decided("pool", None, name, steps, pointer, roster)
    return _decided("pool", None, None, steps, pointer, roster)


def _decided(
    outcome: Outcome,
    userid: str | None,
    rule: RuleName | None,
    steps: list[Step],
    pointer: str | None,
    roster: Roster,
) -> RoutingDecision:
    names = {s.userid: s.name for s in roster.servicers if s.name}
    return RoutingDecision(
        outcome=outcome, userid=userid, rule=rule, steps=tuple(steps), round_robin_last=pointer, names=names
    )


def _named(
    rule: RuleName, userid: str | None, roster: Roster, exclude: Collection[str], steps: list[Step]
) -> ServicerLoad | None:
    """Exclusive or last: that one servicer, if they can be considered at all."""
    if userid is None:
        steps.append(Step(rule=rule, verdict="none_set"))
        return None
    servicer = roster.find(userid)
    if servicer is None:
        steps.append(Step(rule=rule, verdict="not_listed", userid=userid))
        return None
    if userid in exclude:
        steps.append(Step(rule=rule, verdict="refused", userid=userid))
        return None
    if not servicer.on_duty:
        steps.append(Step(rule=rule, verdict="off_duty", userid=userid))
    elif not servicer.has_room:
        steps.append(Step(rule=rule, verdict="at_cap", userid=userid, sessions=servicer.active_sessions))
    return servicer


def _idle(roster: Roster, exclude: Collection[str], steps: list[Step]) -> ServicerLoad | None:
    """No session, else the fewest; ties: idle longest (never served counts as longest), then
    the account's order. One pass with plain tuple keys: a dispatch round asks this once per
    customer it places, over every servicer of the account."""
    best: tuple[int, datetime, int] | None = None
    found: ServicerLoad | None = None
    for position, s in enumerate(roster.servicers):
        if not s.on_duty or s.active_sessions >= s.max_sessions or s.userid in exclude:
            continue
        key = (s.active_sessions, s.idle_since or _NEVER, position)
        if best is None or key < best:
            best, found = key, s
    if found is None:
        steps.append(Step(rule="idle", verdict="nobody"))
    return found


_NEVER = datetime.min.replace(tzinfo=UTC)  # idle since: never served, so idle longest


def _round_robin(
    roster: Roster, exclude: Collection[str], steps: list[Step], pointer: str | None
) -> tuple[ServicerLoad | None, str | None]:
    """Strict rotation in the account's order after the pointer, ignoring load: off-duty and
    refused servicers are skipped; the next one is taken even at their cap (the rule's fallback
    then decides) and the pointer moves to them either way."""
    people = list(roster.servicers)
    if not people:
        steps.append(Step(rule="round_robin", verdict="nobody"))
        return None, pointer
    ids = [s.userid for s in people]
    start = ids.index(pointer) + 1 if pointer in ids else 0
    for offset in range(len(people)):
        servicer = people[(start + offset) % len(people)]
        if servicer.on_duty and servicer.userid not in exclude:
            if not servicer.has_room:
                steps.append(
                    Step(
                        rule="round_robin",
                        verdict="at_cap",
                        userid=servicer.userid,
                        sessions=servicer.active_sessions,
                    )
                )
            return servicer, servicer.userid
    steps.append(Step(rule="round_robin", verdict="nobody"))
    return None, pointer


def behind_the_line(roster: Roster) -> RoutingDecision:
    """Customers wait in the pool for anyone: a new request joins the line behind them, even if
    someone has room this moment (room that a dispatch round has not handed out yet is theirs:
    otherwise a newcomer takes the servicer the first in line has been waiting for)."""
    step = Step(rule="line", verdict="others_waiting", sessions=roster.waiting_for_anyone)
    return _decided("pool", None, "line", [step], roster.round_robin_last, roster)


def for_reserved(roster: Roster, userid: str) -> RoutingDecision:
    """A customer waiting for one servicer (a rule said `wait`): them once they have room."""
    steps: list[Step] = []
    servicer = _named("reserved", userid, roster, (), steps)
    if servicer is not None and servicer.on_duty and servicer.has_room:
        steps.append(
            Step(rule="reserved", verdict="chosen", userid=userid, sessions=servicer.active_sessions)
        )
        return _decided("assign", userid, "reserved", steps, roster.round_robin_last, roster)
    return _decided("wait", userid, "reserved", steps, roster.round_robin_last, roster)


def by_person(roster: Roster, userid: str, *, rule: Literal["manual", "handover"]) -> RoutingDecision:
    """A person chose the servicer: a take by hand (the servicer's own choice: past their cap is
    allowed, reports flag it) or a hand-over (work given to a colleague: within their cap). Either
    way they must be on duty and in the list."""
    steps: list[Step] = []
    servicer = _named(rule, userid, roster, (), steps)
    room = servicer is not None and (servicer.has_room or rule == "manual")
    if servicer is not None and servicer.on_duty and room:
        steps.append(Step(rule=rule, verdict="chosen", userid=userid, sessions=servicer.active_sessions))
        decided = _decided("assign", userid, rule, steps, roster.round_robin_last, roster)
        return decided.model_copy(update={"over_cap": not servicer.has_room})
    return _decided("pool", None, rule, steps, roster.round_robin_last, roster)


def in_app(roster: Roster, userid: str) -> RoutingDecision:
    """A servicer took or was given the session in the WeCom app: WeCom has decided, Kefu records
    it, with `over_cap` when it put them past their cap (their load before it counts)."""
    servicer = roster.find(userid)
    sessions = servicer.active_sessions if servicer is not None else None
    step = Step(rule="app", verdict="chosen", userid=userid, sessions=sessions)
    decided = _decided("assign", userid, "app", [step], roster.round_robin_last, roster)
    return decided.model_copy(update={"over_cap": servicer is not None and not servicer.has_room})


# --- explanations ----------------------------------------------------------------------------

_RULE_NAMES = {
    "zh": {
        "exclusive": "专属客服",
        "last": "上次接待人员",
        "idle": "空闲接待",
        "round_robin": "轮流接待",
        "reserved": "等待中的客服",
        "manual": "手动接入",
        "handover": "转接给",
        "app": "企业微信内接入",
        "line": "排队顺序",
    },
    "en": {
        "reserved": "the servicer waited for",
        "manual": "taken by hand",
        "handover": "handed over",
        "exclusive": "exclusive servicer",
        "last": "last servicer",
        "idle": "idle",
        "round_robin": "round robin",
        "app": "taken in the WeCom app",
        "line": "queue order",
    },
}
_VERDICTS = {
    "zh": {
        "none_set": "{rule}：未设置",
        "not_listed": "{rule}：{who}不在接待人员中",
        "refused": "{rule}：{who}本次无法接入",
        "off_duty": "{rule}：{who}不在接待中",
        "at_cap": "{rule}：{who}已达接待上限（{sessions} 个会话）",
        "nobody": "{rule}：没有可接待的人员",
        "waited_for": "等待{who}",
        "chosen": "{rule} → {who}（当前 {sessions} 个会话）",
        "others_waiting": "{rule}：排队池中已有 {sessions} 位在等",
    },
    "en": {
        "none_set": "{rule}: none set",
        "not_listed": "{rule}: {who} is not a servicer of this account",
        "refused": "{rule}: {who} cannot take this session",
        "off_duty": "{rule}: {who} is not receiving",
        "at_cap": "{rule}: {who} is at the cap (sessions: {sessions})",
        "nobody": "{rule}: nobody can take it",
        "waited_for": "wait for {who}",
        "chosen": "{rule} → {who} (sessions now: {sessions})",
        "others_waiting": "{rule}: {sessions} already waiting in the pool",
    },
}
_POOL = {"zh": "进入排队池", "en": "the queue pool"}
_OVER_CAP = {"zh": "超出接待上限", "en": "over the cap"}


def explain(decision: RoutingDecision, locale: Literal["zh", "en"] = "zh") -> str:
    rules, verdicts = _RULE_NAMES[locale], _VERDICTS[locale]
    parts = [
        verdicts[step.verdict].format(
            rule=rules[step.rule],
            who=decision.names.get(step.userid, step.userid) if step.userid else "",
            sessions=step.sessions if step.sessions is not None else 0,
        )
        for step in decision.steps
    ]
    if decision.outcome == "pool":
        parts.append(_POOL[locale])
    if decision.over_cap:
        parts.append(_OVER_CAP[locale])
    return " → ".join(parts)
