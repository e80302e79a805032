"""The pool's line: queue order and each customer's first question of *this* session, read in
one query for the whole pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu.ingest.models import Message
from kefu.reception.models import Conversation
from kefu.reception.pool import waiting_line
from kefu.runtime import Runtime
from tests.factories import make_account, make_connection

pytestmark = pytest.mark.db
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _text(account_id: int, userid: str, n: int, text: str, at: datetime, origin: int = 3) -> Message:
    return Message(
        account_id=account_id,
        msgid=f"{userid}-{n}",
        external_userid=userid,
        origin=origin,
        msgtype="text",
        send_time=at,
        payload={"msgtype": "text", "text": {"content": text}},
        stored_at=at,
    )


async def test_each_waiting_customer_shows_the_first_question_of_this_session(rt: Runtime) -> None:
    connection, _ = await make_connection(rt, name="pool")
    account = await make_account(rt, connection, "wkPoolLine")
    started = (T0 + timedelta(hours=1)).isoformat()
    async with rt.db.write() as session:
        for userid, queued in (("wmLater", 5), ("wmFirst", 1), ("wmNoStart", 9)):
            session.add(
                Conversation(
                    account_id=account.id,
                    external_userid=userid,
                    wecom_state=2,
                    queued_at=T0 + timedelta(hours=1, minutes=queued),
                    created_at=T0,
                    updated_at=T0,
                    state={} if userid == "wmNoStart" else {"session_started_at": started},
                )
            )
        session.add(_text(account.id, "wmFirst", 1, "上次的问题", T0))  # an earlier session
        session.add(_text(account.id, "wmFirst", 2, "这次的问题", T0 + timedelta(hours=1, minutes=1)))
        session.add(_text(account.id, "wmFirst", 3, "追问", T0 + timedelta(hours=1, minutes=2)))
        session.add(_text(account.id, "wmLater", 1, "客服的话", T0 + timedelta(hours=1), origin=5))
        session.add(_text(account.id, "wmNoStart", 1, "最早的一句", T0))
    async with rt.db.read() as session:
        line = await waiting_line(session, account.id)
    assert [(w.conversation.external_userid, w.position, w.first_question) for w in line] == [
        ("wmFirst", 1, "这次的问题"),
        ("wmLater", 2, None),  # only a servicer's words: no question
        ("wmNoStart", 3, "最早的一句"),  # no recorded start: the first text of all
    ]
