"""The demo corp on the simulator's side: its ids and credentials, kept in the data dir so a
restart re-creates the same corp (`DemoKeys`), and the simulator seeded with it (the corp
青禾家电, its account, three servicers 接待中 and two customers). kefu.demo wires it to Kefu."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kefu.api.tokens import TOKEN_PREFIX
from kefu.simulator import setup
from kefu.simulator.setup import new_encoding_aes_key
from kefu.simulator.state import (
    Account,
    Corp,
    World,
    new_corpid,
    new_external_userid,
    new_open_kfid,
    random_id,
)

CORP_NAME = "青禾家电"
ACCOUNT_NAME = "青禾家电售后"
SERVICERS = (("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五"))
CUSTOMERS = ("小林", "王女士")
KEYS_FILE = "demo.json"


@dataclass(frozen=True)
class DemoKeys:
    """Kefu's secret key and the demo corp's credentials and ids, kept in the data dir so a
    restart re-creates the same corp (Kefu's saved connection, accounts and customers fit)."""

    secret_key: str
    corpid: str
    corp_secret: str
    callback_token: str
    encoding_aes_key: str
    open_kfid: str
    customer_ids: list[str]
    api_token: str
    admin_password: str
    servicer_password: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DemoKeys:
        path = data_dir / KEYS_FILE
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        fresh: dict[str, Callable[[], Any]] = {
            "secret_key": lambda: secrets.token_urlsafe(48),
            "corpid": new_corpid,
            "corp_secret": lambda: secrets.token_urlsafe(32),
            "callback_token": lambda: random_id("", 32),
            "encoding_aes_key": new_encoding_aes_key,
            "open_kfid": new_open_kfid,
            "customer_ids": lambda: [new_external_userid() for _ in CUSTOMERS],
            "api_token": lambda: TOKEN_PREFIX + secrets.token_urlsafe(32),
            "admin_password": lambda: secrets.token_urlsafe(9),
            "servicer_password": lambda: secrets.token_urlsafe(9),
        }
        keys = cls(**{name: stored[name] if name in stored else make() for name, make in fresh.items()})
        if set(stored) != set(fresh):
            write_private(path, json.dumps(asdict(keys), indent=2) + "\n")
        return keys

    def __repr__(self) -> str:  # never print secrets by accident
        return f"DemoKeys(corpid={self.corpid!r}, ***)"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def seed_simulator(world: World, keys: DemoKeys) -> None:
    """The demo corp, its kf account, three servicers (接待中) and two customers, with the
    stored ids. In-process through the simulator's setup functions, which (unlike the
    control API) take the ids to use."""
    with world.lock:
        corp = setup.create_corp(
            world,
            corpid=keys.corpid,
            secret=keys.corp_secret,
            name=CORP_NAME,
            callback_token=keys.callback_token,
            encoding_aes_key=keys.encoding_aes_key,
        )
        account = setup.create_account(world, corp, ACCOUNT_NAME)
        _pin_open_kfid(world, corp, account, keys.open_kfid)
        for userid, name in SERVICERS:
            setup.create_member(world, corp, userid, name=name)  # status 0: 接待中
            account.userids.append(userid)
        for external_userid, nickname in zip(keys.customer_ids, CUSTOMERS, strict=True):
            setup.create_customer(world, corp, nickname=nickname, external_userid=external_userid)
        world.touch()


def _pin_open_kfid(world: World, corp: Corp, account: Account, open_kfid: str) -> None:
    """Give the new (still empty) account the stored open_kfid: the simulator makes a random
    one, and Kefu keeps its per-account settings under the open_kfid it saw before."""
    del world.accounts[account.open_kfid]
    corp.account_ids[corp.account_ids.index(account.open_kfid)] = open_kfid
    account.open_kfid = open_kfid
    world.accounts[open_kfid] = account
