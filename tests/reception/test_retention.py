"""Retention: past KEFU_RETAIN_MESSAGE_DAYS the words of customers, servicers and Kefu are deleted;
the rows stay, so every count still adds up, and the transcript says what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.ingest.models import Message
from kefu.reception.history import BODY_DELETED_TEXT
from kefu.reception.retention import sweep
from tests.reception.conftest import WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def counts(world) -> dict[int, int]:  # type: ignore[no-untyped-def]
    async with world.rt.db.read() as session:
        rows = await session.execute(select(Message.origin, func.count()).group_by(Message.origin))
        return dict(rows.all())  # type: ignore[arg-type]


async def test_bodies_past_the_retention_are_deleted_and_the_rows_stay(make_world: WorldFactory) -> None:
    world = await make_world(kb=True)
    world.says("怎么退货")
    await world.settle()
    before = await counts(world)
    assert before[3] == 1 and before[0] == 1  # the question and the AI's answer

    assert await sweep(world.rt) == 0  # no retention set: everything is kept
    world.rt.settings.retain_message_days = 30
    world.rt.clock.advance(timedelta(days=29))
    assert await sweep(world.rt) == 0
    world.rt.clock.advance(timedelta(days=2))
    world.says("还有问题")  # a fresh message is kept
    await world.settle()
    assert await sweep(world.rt) == 2
    assert await sweep(world.rt) == 0  # done once

    after = await counts(world)
    assert after[3] == before[3] + 1 and after[0] >= before[0]
    texts = [
        (i.sender, i.text) for i in await world.transcript() if i.type == "message" and i.sender != "event"
    ]
    assert texts[:2] == [("customer", BODY_DELETED_TEXT), ("kefu", BODY_DELETED_TEXT)]
    assert ("customer", "还有问题") in texts
    (answer, *_) = [a for a in await world.actions() if a.kind == "send"]
    assert "content" not in str(answer.payload) and "收到商品" not in str(answer.payload)
