"""A supervisor's day played through the real reception (Kefu's WeCom simulator, the job worker,
the frozen clock): the figures the reports must show are worked out by hand from this timeline,
never from Kefu's own queries (tests/reports/test_audit_day.py).

Account 青禾 (Asia/Shanghai, reception 09:00-24:00 every day, cap 1 per servicer, queue timeout
10 min, AI idle timeout 5 min, survey 满意 100 / 一般 60 / 不满意 0); servicers alice, bob
(off duty until 09:24) and carol (on duty 16:00-16:05 only). All times are Shanghai's (UTC+8);
12-01 00:00 is 11-30 16:00 UTC.

     start        customer  what happens
  A1 11-30 23:59  A  AI answers; idle end 12-01 00:04 (before the period 12-01)
  B  12-01 00:10  B  转人工 off hours (off-hours notice); at 09:00 opening → alice, reply +45 s,
                     alice ends 09:10, rated 一般 60
  B2 12-01 09:10  B  the rating click reopens a WeCom session; at 09:12 B asks 保修多久 in it: a
                     real session after all (AI only; idle end 09:17)
  C  12-01 09:20  C  AI answer, 09:21 the 转人工 button → alice; reply +30 s; 09:30 alice transfers
                     to bob in the WeCom app (bob past his cap of 1); bob ends 09:40; rated 满意 100
  D  12-01 09:22  D  人工客服 (keyword): alice full, bob off → pool; 09:24 bob on duty → bob
                     (wait 120 s); reply 09:25:10 (+70 s); bob ends 09:45; rated 不满意 0
  N  12-01 09:23  N  转人工 → pool behind D; D goes to bob first; 09:26 alice (holding C) takes N
                     by hand in Kefu, past her cap (wait 180 s); reply +30 s; alice ends 09:42
  E  12-01 10:00:30 E 转人工 with both off duty (10:00) → pool; queue timeout 10:10:30 (wait 600 s,
                     not taken); both back on duty 10:15
  J  12-01 10:11  J  转人工 → pool (nobody on duty); bob takes J in the WeCom app at 10:13:00 and
                     replies at 10:13:20, Kefu pulls both at 10:13:30: wait 120 s, first reply
                     +20 s (WeCom's times, not Kefu's); bob ends 10:14
  A2 12-01 11:00  A  AI answers; idle end 11:05 (A's second session that day)
  A3 12-01 14:00  A  转人工 → alice; reply 14:02 (+120 s); ended by hand through the API 14:10
  F  12-01 15:00  F  two questions the AI is not sure of, then the button → bob (idle longest,
                     since 09:45; not-sure streak); reply +5 s; bob never ends it: WeCom's 48 h
                     limit does (12-03 15:00)
  M  12-01 16:00  M  转人工 → carol (on duty from 16:00, never served: the idlest); reply +40 s;
                     16:05 a supervisor hands M over to alice in Kefu (carol goes off duty);
                     alice ends 16:10; rated 一般 60
  G  12-01 23:50  G  转人工 → alice (bob full); reply 12-02 00:00:30 (+630 s); alice ends 00:20;
                     rated 满意 100 (a session across local midnight: counted on 12-01)
  K  12-01 23:59:58 K AI answers; Kefu pulls the message only at 12-02 00:00:03 (counted on 12-01,
                     in hour 23); idle end
  H  12-02 07:30  H  AI answers, 07:31 转人工 off hours (12-01 23:30 UTC: 12-01 in UTC); at 09:00
                     opening → alice; alice ends 09:05 without a word

Account 松果 (Asia/Shanghai, default hours Mon-Fri 09:00-18:00, off-hours requests not kept for
the opening, AI idle timeout 5 min); servicer dora:

  P1 12-01 12:00  P  AI answers; idle end 12:05
  P3 12-01 13:00  P2 转人工 → dora; dora ends 13:05 without a word; rated 还行 60 (松果's word for 60)
  P2 12-03 20:00  Q  转人工 off hours: the off-hours notice, AI goes on; idle end 20:05
                     (12-03 holds only off-hours traffic)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu.accounts.models import Connection
from kefu.reception.core.messages import TRANSFER_CLICK_ID
from tests.factories import api_client, make_account
from tests.reception.conftest import MESSAGES_ON, World, WorldFactory, set_up_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
EVERY_DAY = {day: ["09:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
QINGHE = {
    "hours": {
        "weekly": EVERY_DAY,
        "statutory_holidays": False,
        "off_hours_message": {"mode": "fixed", "text": "现在是休息时间"},
    },
    "queue": {"default_max_sessions": 1, "timeout_minutes": 10},
    "session": {"ai_idle_timeout_minutes": 5},
    "messages": MESSAGES_ON,
}
SONGGUO = {
    "hours": {
        "statutory_holidays": False,
        "wait_for_opening": False,
        "off_hours_message": {"mode": "fixed", "text": "现在是休息时间"},
    },
    "session": {"ai_idle_timeout_minutes": 5},
    # Its own words for the same score as 青禾's 一般 (60): each account's page shows its own.
    "messages": {
        "ending": {"mode": "fixed", "text": "再见"},
        "survey": {"mode": "fixed", "text": "请评价", "options": [{"label": "还行", "score": 60}]},
    },
}


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of December 2026 (11-30 as day 0) in Shanghai, as UTC."""
    start = datetime(2026, 11, 30, tzinfo=SHANGHAI) + timedelta(days=day)
    return start.replace(hour=hour, minute=minute, second=second).astimezone(UTC)


@dataclass
class AuditDay:
    qinghe: World
    songguo: World


class Day:
    """Both worlds on one clock: `at(t)` moves the clock to t, runs what fell due and pulls."""

    def __init__(self, qinghe: World, songguo: World) -> None:
        self.qinghe, self.songguo = qinghe, songguo
        self.rt = qinghe.rt

    async def at(self, day: int, hour: int, minute: int = 0, second: int = 0) -> None:
        moment = local(day, hour, minute, second)
        assert moment >= self.rt.clock.now(), "the day is played forward"
        self.rt.clock.set(moment)
        await self.settle()

    async def settle(self) -> None:
        await self.qinghe.run_due()
        await self.qinghe.settle()
        await self.songguo.settle()


async def second_account(world: World, settings: dict[str, Any], servicers: list[str]) -> World:
    """Another kf account of the same corp and connection, with its own settings and servicers."""
    corpid = world.corp["corpid"]
    open_kfid = world.sim.control("POST", f"corps/{corpid}/accounts", {"name": "松果售后"})["open_kfid"]
    world.sim.control("POST", f"accounts/{open_kfid}/servicers", {"userids": servicers})
    async with world.rt.db.read() as session:
        connection = await session.get(Connection, world.account.connection_id)
    assert connection is not None
    account = await make_account(world.rt, connection, open_kfid)
    await set_up_account(world.rt, account.id, settings, servicers)
    return dataclasses.replace(world, open_kfid=open_kfid, account=account)


def customer(world: World, nickname: str) -> World:
    created = world.sim.control("POST", f"corps/{world.corp['corpid']}/customers", {"nickname": nickname})
    return dataclasses.replace(world, customer=created["external_userid"])


def on_duty(world: World, userid: str, on: bool) -> None:
    body = {"status": 1 if on else 2, "stop_type": 0}
    world.sim.control("POST", f"corps/{world.corp['corpid']}/members/{userid}/reception", body)


def reply(world: World, userid: str, text: str = "您好，我来帮您看看") -> None:
    world.servicer("reply", userid, msgtype="text", text={"content": text})


def click_transfer(world: World) -> None:
    menu = [m for m in world.inbox() if m["msgtype"] == "msgmenu" and m["source"] == "send_msg"][-1]
    world.clicks(menu["msgid"], TRANSFER_CLICK_ID)


def rate(world: World, label: str) -> None:
    """The customer taps `label` on the last ending + survey menu."""
    menu = [m for m in world.inbox() if m.get("code_kind") == "ending"][-1]
    [item] = [i for i in menu["body"]["list"] if i["click"]["content"] == label]
    world.clicks(menu["msgid"], item["click"]["id"])


def servicer_of(world: World) -> tuple[int, str | None]:
    session = world.session()
    return session["state"], session["servicer_userid"] or None


async def play_audit_day(make_world: WorldFactory) -> AuditDay:
    qinghe = await make_world(
        at=local(0, 23, 50), settings=QINGHE, servicers=["alice", "bob", "carol"], kb=True
    )
    songguo = await second_account(qinghe, SONGGUO, ["dora"])
    day = Day(qinghe, songguo)
    a, b, c, d, e, f, g, h, j, k, m, n = (customer(qinghe, name) for name in "ABCDEFGHJKMN")
    p, p2, q = (customer(songguo, name) for name in ("P", "P2", "Q"))
    on_duty(qinghe, "bob", False)
    on_duty(qinghe, "carol", False)
    await day.settle()

    await day.at(0, 23, 59)
    a.says("怎么退货")  # A1
    await day.settle()
    await day.at(1, 0, 4)  # A1's idle end
    await day.at(1, 0, 10)
    b.says("转人工")  # B, off hours
    await day.settle()
    assert servicer_of(b) == (1, None)

    await day.at(1, 9, 0)  # opening: B goes to alice
    assert servicer_of(b) == (3, "alice")
    await day.at(1, 9, 0, 45)
    reply(b, "alice")
    await day.settle()
    await day.at(1, 9, 10)
    b.servicer("end", "alice")
    await day.settle()
    rate(b, "一般")
    await day.settle()
    await day.at(1, 9, 12)
    b.says("保修多久")  # B2: after rating, a real question in the session the click reopened
    await day.settle()

    await day.at(1, 9, 20)
    c.says("怎么退货")  # C
    await day.settle()
    await day.at(1, 9, 21)
    click_transfer(c)
    await day.settle()
    assert servicer_of(c) == (3, "alice")
    await day.at(1, 9, 21, 30)
    reply(c, "alice")
    await day.settle()
    await day.at(1, 9, 22)
    d.says("人工客服")  # D: alice is full, bob off duty
    await day.settle()
    assert servicer_of(d) == (2, None)
    await day.at(1, 9, 23)
    n.says("转人工")  # N: behind D
    await day.settle()
    await day.at(1, 9, 24)
    on_duty(qinghe, "bob", True)
    await day.settle()
    assert (servicer_of(d), servicer_of(n)) == ((3, "bob"), (2, None))  # first come, first served
    await day.at(1, 9, 25, 10)
    reply(d, "bob")
    await day.settle()
    await day.at(1, 9, 26)
    async with api_client(qinghe.rt) as api:  # alice, who holds C, takes N by hand: past her cap
        conversation = await n.conversation()
        taken = await api.post(
            f"/api/v1/conversations/{conversation.id}/take", json={"servicer_userid": "alice"}
        )
        assert taken.status_code == 202, taken.text
    await day.settle()
    assert servicer_of(n) == (3, "alice")
    await day.at(1, 9, 26, 30)
    reply(n, "alice")
    await day.settle()
    await day.at(1, 9, 30)
    c.servicer("transfer", "alice", to_servicer_userid="bob")  # bob now holds two
    await day.settle()
    assert servicer_of(c) == (3, "bob")
    await day.at(1, 9, 40)
    c.servicer("end", "bob")
    await day.settle()
    rate(c, "满意")
    await day.at(1, 9, 42)
    n.servicer("end", "alice")
    await day.settle()
    await day.at(1, 9, 45)
    d.servicer("end", "bob")
    await day.settle()
    rate(d, "不满意")

    await day.at(1, 10, 0)
    on_duty(qinghe, "alice", False)
    on_duty(qinghe, "bob", False)
    await day.at(1, 10, 0, 30)
    e.says("转人工")  # E: nobody on duty
    await day.settle()
    assert servicer_of(e) == (2, None)
    await day.at(1, 10, 10, 30)  # the queue timeout
    assert servicer_of(e) == (4, None)
    await day.at(1, 10, 11)
    j.says("转人工")  # J: nobody on duty
    await day.settle()
    assert servicer_of(j) == (2, None)
    day.rt.clock.set(local(1, 10, 13))
    j.servicer("take", "bob")  # in the WeCom app; Kefu pulls both only at 10:13:30
    day.rt.clock.set(local(1, 10, 13, 20))
    reply(j, "bob")
    await day.at(1, 10, 13, 30)
    assert servicer_of(j) == (3, "bob")
    await day.at(1, 10, 14)
    j.servicer("end", "bob")
    await day.settle()
    await day.at(1, 10, 15)
    on_duty(qinghe, "alice", True)
    on_duty(qinghe, "bob", True)

    await day.at(1, 11, 0)
    a.says("保修多久")  # A2
    await day.settle()
    await day.at(1, 11, 5)  # idle end
    assert servicer_of(a) == (4, None)
    await day.at(1, 12, 0)
    p.says("怎么退货")  # P1
    await day.settle()
    await day.at(1, 12, 5)
    assert servicer_of(p) == (4, None)
    await day.at(1, 13, 0)
    p2.says("转人工")  # P3
    await day.settle()
    assert servicer_of(p2) == (3, "dora")
    await day.at(1, 13, 5)
    p2.servicer("end", "dora")
    await day.settle()
    rate(p2, "还行")
    await day.settle()

    await day.at(1, 14, 0)
    a.says("转人工")  # A3
    await day.settle()
    assert servicer_of(a) == (3, "alice")
    await day.at(1, 14, 2)
    reply(a, "alice")
    await day.settle()
    await day.at(1, 14, 10)
    async with api_client(qinghe.rt) as api:
        conversation = await a.conversation()
        ended = await api.post(f"/api/v1/conversations/{conversation.id}/end")
        assert ended.status_code == 202, ended.text
    await day.settle()
    assert servicer_of(a) == (4, None)

    await day.at(1, 15, 0)
    f.says("你们老板叫什么名字")  # F: not sure
    await day.settle()
    f.says("洗衣机的电机是什么型号")  # not sure again: the button is offered
    await day.settle()
    click_transfer(f)
    await day.settle()
    assert servicer_of(f) == (3, "bob")  # idle longest (since 09:45)
    await day.at(1, 15, 0, 5)
    reply(f, "bob")
    await day.settle()

    await day.at(1, 16, 0)
    on_duty(qinghe, "carol", True)
    await day.settle()
    m.says("转人工")  # M: carol never served anyone, so she is the idlest
    await day.settle()
    assert servicer_of(m) == (3, "carol")
    await day.at(1, 16, 0, 40)
    reply(m, "carol")
    await day.settle()
    await day.at(1, 16, 5)
    async with api_client(qinghe.rt) as api:
        conversation = await m.conversation()
        handed = await api.post(
            f"/api/v1/conversations/{conversation.id}/hand-over", json={"servicer_userid": "alice"}
        )
        assert handed.status_code == 202, handed.text
    await day.settle()
    assert servicer_of(m) == (3, "alice")
    on_duty(qinghe, "carol", False)
    await day.at(1, 16, 10)
    m.servicer("end", "alice")
    await day.settle()
    rate(m, "一般")
    await day.settle()

    await day.at(1, 23, 50)
    g.says("转人工")  # G: bob holds F
    await day.settle()
    assert servicer_of(g) == (3, "alice")
    day.rt.clock.set(local(1, 23, 59, 58))
    k.says("怎么退货")  # K, pulled only at 00:00:03
    await day.at(2, 0, 0, 3)
    await day.at(2, 0, 0, 30)
    reply(g, "alice")
    await day.settle()
    await day.at(2, 0, 20)
    g.servicer("end", "alice")
    await day.settle()
    rate(g, "满意")
    await day.settle()

    await day.at(2, 7, 30)
    h.says("怎么退货")  # H
    await day.settle()
    await day.at(2, 7, 31)
    h.says("转人工")
    await day.settle()
    await day.at(2, 9, 0)
    assert servicer_of(h) == (3, "alice")
    await day.at(2, 9, 5)
    h.servicer("end", "alice")
    await day.settle()

    await day.at(3, 20, 0)
    q.says("转人工")  # P2: off hours, not kept for the opening
    await day.settle()
    await day.at(3, 20, 5)
    assert servicer_of(q) == (4, None)
    await day.at(4, 10, 0)  # the report is read the next morning
    return AuditDay(qinghe, songguo)
