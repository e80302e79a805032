"""End-to-end reception worlds: a simulator corp with one kf account, a customer and servicers, and
Kefu connected to it with the account's settings, servicers and knowledge base in its database.

The clock is the test's frozen clock, shared by Kefu and the simulator; a world can start at
any instant (set before the account is connected, so nothing is bootstrap history). Jobs run
with `Worker(rt).run_until_idle()`; `settle()` pulls the stream and runs every job due now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from kefu.accounts.models import KfAccount, KnowledgeEntryRow
from kefu.accounts.sync import enqueue_sync
from kefu.ingest.tasks import sync_account
from kefu.jobs.worker import Worker
from kefu.reception.history import transcript
from kefu.reception.models import Conversation, ConversationAction, Rating
from kefu.reception.schemas import TranscriptItem
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.factories import add_servicers, make_account, make_connection
from tests.ingest.conftest import keys_of

KB = [
    ("returns", "怎么退货", "收到商品 7 天内可在订单页申请退货，运费由我们承担。", ["如何退货", "退货流程"]),
    ("warranty", "保修多久", "整机保修一年，主要部件保修三年。", ["保修期多长"]),
]
MESSAGES_ON = {
    "welcome": {"mode": "fixed", "text": "您好，欢迎咨询青禾家电"},
    "ending": {"mode": "fixed", "text": "本次服务已结束，感谢您的咨询"},
    "survey": {
        "mode": "fixed",
        "text": "请为本次服务评分",
        "options": [
            {"label": "满意", "score": 100},
            {"label": "一般", "score": 60},
            {"label": "不满意", "score": 0},
        ],
    },
}
POOL_NOTICE = {"pool_notice": {"mode": "fixed", "text": "正在为您排队，您前面还有 {position} 位"}}


@dataclass
class World:
    rt: Runtime
    sim: SimulatorServer
    corp: dict[str, Any]
    open_kfid: str
    customer: str
    account: KfAccount

    # --- the customer and the servicers (simulator side) -------------------------------------

    def says(self, text: str) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": text}}
        return self.sim.control("POST", f"customers/{self.customer}/messages", body)["item"]

    def sends_image(self) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "msgtype": "image", "image": {}}
        return self.sim.control("POST", f"customers/{self.customer}/messages", body)["item"]

    def enters(self) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "scene": "web"}
        return self.sim.control("POST", f"customers/{self.customer}/enter", body)["item"]

    def clicks(self, menu_msgid: str, item_id: str) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "menu_msgid": menu_msgid, "item_id": item_id}
        return self.sim.control("POST", f"customers/{self.customer}/click", body)["item"]

    def servicer(self, action: str, userid: str, **extra: Any) -> dict[str, Any]:
        path = f"accounts/{self.open_kfid}/sessions/{self.customer}/{action}"
        return self.sim.control("POST", path, {"servicer_userid": userid, **extra})["item"]

    def set_sim(self, **settings: Any) -> None:
        self.sim.control("PATCH", "settings", settings)

    # --- what WeCom shows ----------------------------------------------------------------------

    def inbox(self) -> list[dict[str, Any]]:
        return self.sim.control("GET", f"customers/{self.customer}/inbox?open_kfid={self.open_kfid}")[
            "messages"
        ]

    def session(self) -> dict[str, Any]:
        return self.sim.control("GET", f"accounts/{self.open_kfid}/sessions/{self.customer}")

    def sends(self) -> list[dict[str, Any]]:
        return self.sim.control("GET", f"sends?open_kfid={self.open_kfid}")["sends"]

    # --- Kefu side -------------------------------------------------------------------------------

    async def settle(self, *, max_jobs: int | None = None) -> int:
        """Pull the account's stream, then run every job that is due now (or only `max_jobs`)."""
        async with self.rt.db.write() as session:
            await session.run_sync(enqueue_sync, self.account.id, now=self.rt.clock.now())
        return await self.run_due(max_jobs=max_jobs)

    async def pull(self) -> None:
        """Only store what the stream holds (the sync task run directly, no other job)."""
        await sync_account(self.rt, account_id=self.account.id)

    async def run_due(self, *, max_jobs: int | None = None) -> int:
        """Run every job due now, or only the first `max_jobs`.

        `run_until_idle` can return while a job it claimed nothing beside is committing its
        last write (PostgreSQL: the claim's snapshot predates it), so run again until a run
        finds nothing.
        """
        if max_jobs is not None:
            return await Worker(self.rt).run_until_idle(max_jobs=max_jobs)
        total = 0
        while ran := await Worker(self.rt).run_until_idle():
            total += ran
        return total

    async def transcript(self) -> list[TranscriptItem]:
        conversation = await self.conversation()
        async with self.rt.db.read() as session:
            return await transcript(session, conversation)

    async def conversation(self) -> Conversation:
        async with self.rt.db.read() as session:
            found = await session.scalar(
                select(Conversation).where(
                    Conversation.account_id == self.account.id, Conversation.external_userid == self.customer
                )
            )
        assert found is not None
        return found

    async def ratings(self) -> list[Rating]:
        async with self.rt.db.read() as session:
            return list((await session.scalars(select(Rating).order_by(Rating.id))).all())

    async def actions(self) -> list[ConversationAction]:
        conversation = await self.conversation()
        async with self.rt.db.read() as session:
            rows = await session.scalars(
                select(ConversationAction)
                .where(ConversationAction.conversation_id == conversation.id)
                .order_by(ConversationAction.id)
            )
            return list(rows.all())


def texts_of(message: dict[str, Any]) -> str:
    """What the customer reads in one received message (a menu's head, items and tail)."""
    body = message["body"]
    if message["msgtype"] == "text":
        return body["content"]
    labels = [item[item["type"]]["content"] for item in body.get("list", [])]
    return " | ".join([body.get("head_content") or "", *labels, body.get("tail_content") or ""])


WorldFactory = Callable[..., Awaitable[World]]


async def set_up_account(
    rt: Runtime, account_id: int, settings: dict[str, Any] | None, servicers: Sequence[str]
) -> None:
    """The account's settings and its servicers (on duty, in WeCom), as Kefu would have read them."""
    async with rt.db.write() as session:
        row = await session.get(KfAccount, account_id)
        assert row is not None
        row.settings = settings
    await add_servicers(rt, account_id, servicers)


@pytest.fixture
def make_world(rt: Runtime, simulator: SimulatorServer) -> WorldFactory:
    """`await make_world(at=…, settings={…}, servicers=[…], kb=True)`."""
    rt.settings = rt.settings.model_copy(update={"wecom_api_base": simulator.url})

    async def build(
        *,
        at: datetime | None = None,
        settings: dict[str, Any] | None = None,
        servicers: list[str] = (),  # type: ignore[assignment]
        kb: bool = False,
    ) -> World:
        if at is not None:
            rt.clock.set(at)  # before connecting: later messages are live, not history
        corp = simulator.control("POST", "corps", {"name": "青禾家电"})
        open_kfid = simulator.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "青禾售后"})[
            "open_kfid"
        ]
        customer = simulator.control("POST", f"corps/{corp['corpid']}/customers", {"nickname": "张三"})[
            "external_userid"
        ]
        if servicers:
            simulator.control("POST", f"accounts/{open_kfid}/servicers", {"userids": list(servicers)})
        connection, _ = await make_connection(rt, keys=keys_of(corp))
        account = await make_account(rt, connection, open_kfid)
        now = rt.clock.now()
        await set_up_account(rt, account.id, settings, servicers)
        async with rt.db.write() as session:
            for entry_id, question, answer, alternatives in KB if kb else ():
                session.add(
                    KnowledgeEntryRow(
                        account_id=account.id,
                        entry_id=entry_id,
                        question=question,
                        answer=answer,
                        alt_questions=alternatives,
                        tags=[],
                        updated_at=now,
                    )
                )
        return World(rt, simulator, corp, open_kfid, customer, account)

    return build
