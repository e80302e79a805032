"""A small history whose every figure is computed by hand in the tests (see `small_history`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from kefu.accounts.models import KfAccount
from kefu.routing.models import RoutingDecisionRow
from kefu.runtime import Runtime
from tests.console.conftest import signed_in
from tests.factories import make_account, make_connection
from tests.history import Human, add_session, conversation_row
from tests.reception.conftest import make_world

# Fixtures of the real reception (tests/reports/audit_day.py) and of the signed-in console.
__all__ = ["make_world", "signed_in"]


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class SmallHistory:
    shanghai: KfAccount  # the default time zone, UTC+8
    london: KfAccount  # Europe/London, UTC+0 in November


@pytest.fixture
async def small_history(rt: Runtime) -> SmallHistory:
    return await seed_small_history(rt)


async def add_servicer_session(rt: Runtime, history: SmallHistory, userid: str) -> None:
    """One more session on 11-21, taken by a servicer with the given userid (stored as it is: one
    that reads as a formula, "=1+2", or holds what no worksheet can)."""
    async with rt.db.write() as session:
        conversation = conversation_row(history.shanghai.id, "wm_hostile", datetime(2026, 11, 21, tzinfo=UTC))
        session.add(conversation)
        await session.flush()
        add_session(
            session, conversation, 1, datetime(2026, 11, 21, 2, tzinfo=UTC), human=Human("keyword", userid)
        )


async def seed_small_history(rt: Runtime) -> SmallHistory:
    """Account 青禾 (Shanghai), its sessions by local time (UTC+8):

    1. 11-24 10:00  AI only, ended by the AI idle timeout (the ending alone: no survey)
    2. 11-24 11:00  keyword → pool 60 s → zhangsan, first reply 30 s, ended by him, rated 100
    3. 11-23 09:30  button → lisi directly, first reply 10 s; lisi passes it to zhangsan, who
                    gives it back without a word; lisi ends it, rated 60
    4. 11-23 14:00  not-sure streak → pool 300 s, nobody took it, ended (queue timeout: its
                    own message, no survey)
    5. 11-23 00:30  AI only, still open (11-22 16:30 UTC: another day in UTC)
    6. 11-19 23:59  keyword → lisi, before the period (11-20 … 11-25); ended by Kefu before the
                    upgrade that records why and whether the survey went out; rated 100
    7. 11-20 00:00  human-only → pool 120 s → zhangsan, first reply 50 s, ended by hand in
                    Kefu, rated 0
    8. 11-21 10:00  a rating-only session (a survey click): not a session in reports

    Routing: zhangsan took session 2 past his cap in the WeCom app (flagged).

    Account London: one AI-only session, 11-24 02:00 UTC, found ended by a state check."""
    connection, _ = await make_connection(rt)
    shanghai = await make_account(rt, connection, "wkShanghai")
    london = await make_account(rt, connection, "wkLondon")
    async with rt.db.write() as session:
        row = await session.get(KfAccount, london.id)
        assert row is not None
        row.settings = {"timezone": "Europe/London"}
        c1, c2, c3, c4, c5 = (conversation_row(shanghai.id, f"wm_{n}", utc(19, 0)) for n in range(1, 6))
        c6 = conversation_row(london.id, "wm_6", utc(19, 0))
        session.add_all([c1, c2, c3, c4, c5, c6])
        await session.flush()
        add_session(session, c1, 1, utc(24, 2))
        add_session(
            session,
            c1,
            2,
            utc(24, 3),
            human=Human("keyword", "zhangsan", wait_s=60, first_response_s=30),
            rating=100,
        )
        add_session(
            session,
            c2,
            1,
            utc(23, 1, 30),
            human=Human("button", "lisi", first_response_s=10, passed_to=("zhangsan", "lisi")),
            rating=60,
        )
        add_session(session, c3, 1, utc(23, 6), human=Human("not_sure_streak", None, wait_s=300, taken=False))
        add_session(session, c4, 1, utc(22, 16, 30), ended_after=None)
        add_session(
            session,
            c5,
            1,
            utc(19, 15, 59),
            human=Human("keyword", "lisi", first_response_s=5),
            end=("kefu_ended", None),
            survey=False,
            rating=100,
        )
        add_session(
            session,
            c5,
            2,
            utc(19, 16),
            human=Human("human_only", "zhangsan", wait_s=120, first_response_s=50),
            end=("kefu_ended", "ended_by_hand"),
            rating=0,
        )
        add_session(session, c5, 3, utc(21, 2), kind="rating_only", ended_after=timedelta(seconds=1))
        add_session(session, c6, 1, utc(24, 2), end=("reconciled", None), survey=False)
        # zhangsan took session 2 in the WeCom app past his cap; lisi's take was within it, and
        # another take past the cap falls before the period.
        for conversation, at, userid, over_cap in (
            (c1, utc(24, 3), "zhangsan", True),
            (c2, utc(23, 2), "lisi", False),
            (c5, utc(19, 15), "lisi", True),
        ):
            session.add(
                RoutingDecisionRow(
                    account_id=shanghai.id,
                    conversation_id=conversation.id,
                    session_no=1,
                    decided_at=at,
                    reason="servicer_took_from_pool",
                    outcome="assign",
                    rule="in_app",
                    servicer_userid=userid,
                    explanation="",
                    steps=[],
                    over_cap=over_cap,
                )
            )
    return SmallHistory(shanghai, london)
