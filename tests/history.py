"""Reception history for reports, written through Kefu's models: conversations, their session
records (as kefu.reception.session_log keeps them), ratings and routing decisions.

`add_session` writes one session exactly as given (hand-computed report tests);
`seed_history` writes many plausible ones from a seeded random generator (benchmarks, the
console's pages): most sessions answered by the AI alone, about a third handed to a human for
a keyword, the button, a not-sure streak or human-only mode, a wait in the pool for many of
those, a first reply within minutes, a colleague taking over now and then, a rating for some."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount
from kefu.reception.models import Conversation, Rating, SessionRecord, SessionServicer
from kefu.routing.models import RoutingDecisionRow
from kefu.runtime import Runtime

SCORES = ((100, "满意"), (60, "一般"), (0, "不满意"))
REASONS = (("keyword", 40), ("button", 30), ("not_sure_streak", 15), ("human_only", 15))
SERVICERS = ("zhangsan", "lisi", "wangwu", "zhaoliu", "sunqi")


def conversation_row(account_id: int, external_userid: str, at: datetime) -> Conversation:
    return Conversation(
        account_id=account_id, external_userid=external_userid, wecom_state=4, created_at=at, updated_at=at
    )


@dataclass
class Human:
    """The human part of a session: why, how long in the pool (None: straight to a servicer),
    whether a servicer took it from there, who, and after how many seconds they first replied;
    the colleagues it was then passed to (转接), in order (the last one has it at the end); who
    wrote in it (None: the first servicer, if they replied)."""

    reason: str
    servicer: str | None
    wait_s: int | None = None
    taken: bool = True
    first_response_s: int | None = None
    passed_to: tuple[str, ...] = ()
    wrote: tuple[str, ...] | None = None


def add_session(
    session: AsyncSession,
    conversation: Conversation,
    session_no: int,
    started_at: datetime,
    *,
    human: Human | None = None,
    ended_after: timedelta | None = timedelta(minutes=10),
    end: tuple[str, str | None] | None = None,
    survey: bool | None = None,
    rating: int | None = None,
    kind: str = "normal",
) -> SessionRecord:
    """One session's record (and its servicers', and its rating) as the reception would have kept
    it. `end`: (end_reason, end_requested) when not what the reception notes by default — the
    servicer's end in the WeCom app, else Kefu's end for a queue or an AI idle timeout. `survey`:
    whether the ending carried the survey (default: as the reception sends it, when a servicer
    held the session)."""
    row = SessionRecord(
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        session_no=session_no,
        kind=kind,
        started_at=started_at,
        started_hour=int(started_at.timestamp()) // 3600,
        taken=False,
        servicer_transfers=0,
        survey_sent=False,
    )
    servicer = None
    if human is not None:
        row.transfer_reason = human.reason
        at = started_at + timedelta(seconds=20)
        if human.wait_s is not None:
            row.queued_at, row.wait_seconds, row.taken = at, human.wait_s, human.taken
            at += timedelta(seconds=human.wait_s)
        if human.taken and human.servicer is not None:
            row.servicer_userid, row.assigned_at = human.servicer, at
            row.first_response_seconds = human.first_response_s
            servicer = _servicers_of(session, conversation, session_no, human, at)
            row.servicer_transfers = len(human.passed_to)
    if ended_after is not None:
        row.ended_at = started_at + ended_after
        timeout = "queue_timeout" if human else "idle_timeout"
        row.end_reason, row.end_requested = end or (
            ("servicer_ended", None) if servicer else ("kefu_ended", timeout)
        )
        row.ended_servicer_userid = servicer
        row.survey_sent = survey if survey is not None else servicer is not None
    session.add(row)
    if rating is not None:
        label = dict(SCORES).get(rating, str(rating))
        session.add(
            Rating(
                conversation_id=conversation.id,
                session_no=session_no,
                score=rating,
                label=label,
                servicer_userid=servicer,
                created_at=started_at + (ended_after or timedelta()) + timedelta(seconds=30),
            )
        )
    return row


def _servicers_of(
    session: AsyncSession, conversation: Conversation, session_no: int, human: Human, at: datetime
) -> str:
    """Each servicer's part (SessionServicer) along the chain of holders; returns the last."""
    assert human.servicer is not None
    chain = [human.servicer, *human.passed_to]
    wrote = (
        human.wrote if human.wrote is not None else (chain[:1] if human.first_response_s is not None else [])
    )
    parts: dict[str, SessionServicer] = {}
    for index, userid in enumerate(chain):
        part = parts.setdefault(
            userid,
            SessionServicer(
                conversation_id=conversation.id,
                session_no=session_no,
                servicer_userid=userid,
                assigned_at=at + timedelta(minutes=index),
                transferred_in=False,
                transferred_out=False,
                replied_at=at + timedelta(minutes=index, seconds=5) if userid in wrote else None,
            ),
        )
        if index:
            part.transferred_in = True
            parts[chain[index - 1]].transferred_out = True
    session.add_all(parts.values())
    return chain[-1]


def _random_human(rng: random.Random) -> Human:
    reason = rng.choices([r for r, _ in REASONS], weights=[w for _, w in REASONS])[0]
    queued = rng.random() < 0.6
    taken = not queued or rng.random() < 0.9
    servicer = rng.choice(SERVICERS)
    colleague = rng.choice([s for s in SERVICERS if s != servicer])
    return Human(
        reason=reason,
        servicer=servicer,
        wait_s=int(rng.lognormvariate(4.5, 1.0)) if queued else None,  # median ~90 s
        taken=taken,
        first_response_s=int(rng.lognormvariate(3.5, 0.8)) if taken and rng.random() < 0.95 else None,
        passed_to=(colleague,) if rng.random() < 0.1 else (),  # 转接, now and then
    )


async def seed_history(
    rt: Runtime,
    n_conversations: int,
    *,
    accounts: list[KfAccount],
    end: datetime,
    days: int = 30,
    seed: int = 7,
    batch: int = 2000,
) -> int:
    """`n_conversations` customers over the `days` before `end`, 1–3 sessions each, spread over
    the accounts and weighted to working hours (Shanghai). Returns the number of sessions."""
    rng = random.Random(seed)
    sessions = 0
    for first in range(0, n_conversations, batch):
        async with rt.db.write() as session:
            conversations = []
            for number in range(first, min(first + batch, n_conversations)):
                account = accounts[number % len(accounts)]
                start = end - timedelta(days=days) + timedelta(seconds=rng.randrange(days * 86400))
                conversations.append(conversation_row(account.id, f"wm_history_{number:07d}", start))
            session.add_all(conversations)
            await session.flush()  # their ids, for the sessions
            for conversation in conversations:
                sessions += _sessions_of(session, conversation, rng, end)
    return sessions


def _sessions_of(session: AsyncSession, conversation: Conversation, rng: random.Random, end: datetime) -> int:
    written = 0
    for session_no in range(1, rng.choice((1, 1, 1, 2, 2, 3)) + 1):
        day = conversation.created_at + timedelta(days=(session_no - 1) * rng.randrange(0, 4))
        # 09–21 h in Shanghai (UTC+8), the busiest hours
        day = day.replace(hour=rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13)))
        if day >= end:
            break
        human = _random_human(rng) if rng.random() < 0.35 else None
        still_open = rng.random() < 0.05
        rated = human is not None and human.taken and not still_open and rng.random() < 0.4
        row = add_session(
            session,
            conversation,
            session_no,
            day,
            human=human,
            ended_after=None if still_open else timedelta(minutes=rng.randrange(2, 40)),
            rating=rng.choice(SCORES)[0] if rated else None,
        )
        if row.assigned_at is not None:  # the routing decision that gave it to the servicer
            session.add(
                RoutingDecisionRow(
                    account_id=conversation.account_id,
                    conversation_id=conversation.id,
                    session_no=session_no,
                    decided_at=row.assigned_at,
                    reason=row.transfer_reason or "dispatch",
                    outcome="assign",
                    rule="idle",
                    servicer_userid=row.servicer_userid,
                    explanation="",
                    steps=[],
                    over_cap=rng.random() < 0.03,  # a take in the WeCom app past the cap, now and then
                )
            )
        written += 1
    return written
