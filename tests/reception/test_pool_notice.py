"""The queue message a customer reads on entering the pool, end to end through the simulator:
`{position}` counts who waits ahead, and the first in line reads a sentence of their own
(「您是下一位」) rather than 「您前面还有 0 位」 — where the admin wrote one, or with AI phrasing."""

from __future__ import annotations

import pytest

from kefu.ai.phrasing import DEFAULT_PHRASES
from kefu.demo_setup import DEMO_QUEUE
from kefu.reception.core.messages import pool_notice_phrase
from kefu.reception.core.settings import AccountSettings
from kefu.reception.wording import first_in_line
from tests.reception.conftest import World, WorldFactory, texts_of
from tests.reception.routing_world import HUMAN_ONLY, another_customer

TEMPLATE = "正在为您排队，您前面还有 {position} 位"
NEXT = "正在为您排队，您是下一位，请稍候"


async def two_waiting(make_world: WorldFactory, pool_notice: dict[str, str]) -> tuple[World, World]:
    """alice serves 甲 (her cap is 1); 乙 then 丙 wait in the pool."""
    queue = {"default_max_sessions": 1, "pool_notice": pool_notice}
    world = await make_world(settings={**HUMAN_ONLY, "queue": queue}, servicers=["alice"])
    served, first, second = (another_customer(world, name) for name in "甲乙丙")
    for customer in (served, first, second):
        customer.says("你好")
        await world.settle()
    assert (first.session()["state"], second.session()["state"]) == (2, 2)
    return first, second


@pytest.mark.db
@pytest.mark.e2e
async def test_the_first_in_line_reads_the_next_in_line_text_the_others_their_position(
    make_world: WorldFactory,
) -> None:
    first, second = await two_waiting(
        make_world, {"mode": "fixed", "text": TEMPLATE, "next_in_line_text": NEXT}
    )
    assert [texts_of(m) for m in first.inbox()] == [NEXT]
    assert [texts_of(m) for m in second.inbox()] == ["正在为您排队，您前面还有 1 位"]


@pytest.mark.db
@pytest.mark.e2e
async def test_an_admins_template_without_a_next_in_line_text_is_sent_as_written(
    make_world: WorldFactory,
) -> None:
    first, second = await two_waiting(make_world, {"mode": "fixed", "text": TEMPLATE})
    assert [texts_of(m) for m in first.inbox()] == ["正在为您排队，您前面还有 0 位"]
    assert [texts_of(m) for m in second.inbox()] == ["正在为您排队，您前面还有 1 位"]


@pytest.mark.db
@pytest.mark.e2e
async def test_ai_phrasing_tells_the_first_in_line_they_are_next(make_world: WorldFactory) -> None:
    first, second = await two_waiting(make_world, {"mode": "ai"})
    [told] = first.inbox()
    assert texts_of(told) in DEFAULT_PHRASES["pool_notice_next"]
    assert "0 位" not in texts_of(told)
    [later] = second.inbox()
    assert texts_of(later) in {t.format(position=1) for t in DEFAULT_PHRASES["pool_notice"]}


def test_the_demo_account_tells_the_first_in_line_they_are_next() -> None:
    settings = AccountSettings.model_validate({"queue": DEMO_QUEUE})
    notice = pool_notice_phrase(settings)
    assert notice is not None
    assert first_in_line(notice, {"position": "0"}).fixed({"position": "0"}) == NEXT
    assert (
        first_in_line(notice, {"position": "2"}).fixed({"position": "2"}) == "正在为您排队，您前面还有 2 位"
    )
