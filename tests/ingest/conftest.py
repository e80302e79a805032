"""A simulator corp with one kf account and a customer, and Kefu connected to it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kefu.accounts.models import Connection, KfAccount
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.factories import ConnectionKeys, make_account, make_connection


@dataclass
class Wired:
    rt: Runtime
    sim: SimulatorServer
    corp: dict
    open_kfid: str
    customer: str
    connection: Connection
    account: KfAccount

    def customer_says(self, text: str, customer: str | None = None) -> dict:
        body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": text}}
        return self.sim.control("POST", f"customers/{customer or self.customer}/messages", body)["item"]


def sim_corp(sim: SimulatorServer) -> tuple[dict, str, str]:
    corp = sim.control("POST", "corps", {"name": "青禾家电"})
    open_kfid = sim.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "青禾售后"})["open_kfid"]
    customer = sim.control("POST", f"corps/{corp['corpid']}/customers", {"nickname": "张三"})[
        "external_userid"
    ]
    return corp, open_kfid, customer


def keys_of(corp: dict) -> ConnectionKeys:
    return ConnectionKeys(corp["corpid"], corp["secret"], corp["callback_token"], corp["encoding_aes_key"])


@pytest.fixture
def sim_rt(rt: Runtime, simulator: SimulatorServer) -> Runtime:
    rt.settings = rt.settings.model_copy(update={"wecom_api_base": simulator.url})
    return rt


@pytest.fixture
async def wired(sim_rt: Runtime, simulator: SimulatorServer) -> Wired:
    corp, open_kfid, customer = sim_corp(simulator)
    connection, _ = await make_connection(sim_rt, keys=keys_of(corp))
    account = await make_account(sim_rt, connection, open_kfid)
    return Wired(sim_rt, simulator, corp, open_kfid, customer, connection, account)
