"""The chaos run's world: one corp in the simulator with ten accounts (two servicers each) and
the customers; Kefu's configuration for it; the customers writing; servicers ending human
sessions in the WeCom app."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "tests" / "fixtures" / "config" / "kb" / "qinghe.csv"
ACCOUNTS = 10
SERVICERS_PER_ACCOUNT = 2
CAP = 2
TRANSFER_SHARE = 0.03
QUESTIONS = ["如何申请退货", "退货运费谁承担", "冰箱不制冷怎么办", "多久能发货", "可以开发票吗", "你好"]


def build_world(sim: SimulatorServer, customers: int) -> dict[str, Any]:
    corp = sim.control("POST", "corps", {"name": "chaos"})
    corpid = corp["corpid"]
    accounts = []
    for i in range(ACCOUNTS):
        kfid = sim.control("POST", f"corps/{corpid}/accounts", {"name": f"压测{i:02d}"})["open_kfid"]
        userids = [f"s{i:02d}{c}" for c in "ab"[:SERVICERS_PER_ACCOUNT]]
        for userid in userids:
            sim.control(
                "POST", f"corps/{corpid}/members", {"userid": userid, "name": userid, "activated": True}
            )
        sim.control("POST", f"accounts/{kfid}/servicers", {"userids": userids})
        accounts.append({"open_kfid": kfid, "name": f"压测{i:02d}", "servicers": userids})
    people = [
        sim.control("POST", f"corps/{corpid}/customers", {})["external_userid"] for _ in range(customers)
    ]
    return {"corp": corp, "accounts": accounts, "customers": people}


def config_yaml(world: dict[str, Any], *, kb: Path = KB, ai: str = "{provider: builtin}") -> str:
    """Kefu's configuration for the world: AI first at all hours, answered from `kb`."""
    corp = world["corp"]
    all_day = (
        "{"
        + ", ".join(f'{d}: ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
        + "}"
    )
    lines = [
        "version: 1",
        "connections:",
        "  - name: chaos",
        f"    corp_id: {corp['corpid']}",
        "    secret: ${CHAOS_KF_SECRET}",
        "    callback_token: ${CHAOS_CB_TOKEN}",
        "    encoding_aes_key: ${CHAOS_AES_KEY}",
        f"ai: {ai}",
        "accounts:",
    ]
    for account in world["accounts"]:
        servicers = ", ".join(f"{{userid: {u}}}" for u in account["servicers"])
        lines += [
            "  - connection: chaos",
            f"    open_kfid: {account['open_kfid']}",
            f"    name: {account['name']}",
            f"    servicers: [{servicers}]",
            "    reception: {mode: ai_first, keyword_transfer: {enabled: true, keywords: [转人工]},"
            " not_sure_streak: {enabled: false}}",
            f"    hours: {{weekly: {all_day}, statutory_holidays: false}}",
            f"    queue: {{default_max_sessions: {CAP}, max_length: null, timeout_minutes: null}}",
            f"    knowledge_base: {kb}",
        ]
    return "\n".join(lines) + "\n"


class ServicerBot(threading.Thread):
    """Servicers in the WeCom app: end each human session a few seconds after it was taken, so
    caps free up and the pool moves (Kefu hears of it by event, like a real end)."""

    def __init__(self, sim: SimulatorServer, accounts: list[dict[str, Any]], hold_s: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.sim, self.accounts, self.hold_s = sim, accounts, hold_s
        self.stop = threading.Event()
        self.ended = 0
        self._seen: dict[tuple[str, str, int], float] = {}

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for account in self.accounts:
                kfid = account["open_kfid"]
                for s in self.sim.control("GET", f"accounts/{kfid}/sessions")["sessions"]:
                    if s["state"] != 3:
                        continue
                    key = (kfid, s["external_userid"], s["session_no"])
                    first = self._seen.setdefault(key, time.monotonic())
                    if time.monotonic() - first < self.hold_s:
                        continue
                    try:
                        self.sim.control(
                            "POST",
                            f"accounts/{kfid}/sessions/{s['external_userid']}/end",
                            {"servicer_userid": s["servicer_userid"]},
                        )
                        self.ended += 1
                    except httpx.HTTPStatusError:
                        pass  # moved meanwhile


def drive(
    sim: SimulatorServer, world: dict[str, Any], messages: int, seconds: float, rng: random.Random
) -> list[dict[str, str]]:
    """Customers write, paced evenly over `seconds`; customer i writes to account i % 10."""
    sent: list[dict[str, str]] = []
    people, accounts = world["customers"], world["accounts"]
    started = time.monotonic()
    for j in range(messages):
        time.sleep(max(0.0, started + j * seconds / messages - time.monotonic()))
        i = j % len(people)
        kfid = accounts[i % ACCOUNTS]["open_kfid"]
        content = "转人工" if rng.random() < TRANSFER_SHARE else f"{rng.choice(QUESTIONS)} ({j})"
        item = sim.control(
            "POST",
            f"customers/{people[i]}/messages",
            {"open_kfid": kfid, "msgtype": "text", "text": {"content": content}},
        )["item"]
        sent.append({"msgid": item["msgid"], "open_kfid": kfid, "external_userid": people[i]})
    return sent
