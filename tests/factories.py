"""Test data written straight to the database (the services have their own tests)."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from kefu.accounts.models import Connection, KfAccount, Servicer
from kefu.api.tokens import create_token
from kefu.app import create_app
from kefu.clock import Clock
from kefu.runtime import Runtime
from kefu.wecom.crypto import CallbackCrypto


def random_aes_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


@dataclass
class ConnectionKeys:
    corp_id: str
    secret: str
    token: str
    aes_key: str

    def crypto(self) -> CallbackCrypto:
        return CallbackCrypto(self.token, self.aes_key, self.corp_id)


async def make_connection(
    rt: Runtime, *, name: str = "qinghe", keys: ConnectionKeys | None = None, bootstrap: str = "skip"
) -> tuple[Connection, ConnectionKeys]:
    keys = keys or ConnectionKeys("ww0123456789abcdef", "app-secret-1", "tok123", random_aes_key())
    now = rt.clock.now()
    async with rt.db.write() as session:
        connection = Connection(
            name=name,
            corp_id=keys.corp_id,
            secret_enc=rt.secrets.seal(keys.secret),
            callback_token_enc=rt.secrets.seal(keys.token),
            aes_key_enc=rt.secrets.seal(keys.aes_key),
            bootstrap=bootstrap,
            created_at=now,
            updated_at=now,
        )
        session.add(connection)
    return connection, keys


async def make_account(
    rt: Runtime, connection: Connection, open_kfid: str = "wkTestAccount0001"
) -> KfAccount:
    now = rt.clock.now()
    async with rt.db.write() as session:
        account = KfAccount(
            connection_id=connection.id,
            open_kfid=open_kfid,
            name="测试客服",
            connected_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(account)
    return account


async def add_servicers(rt: Runtime, account_id: int, userids: Sequence[str]) -> None:
    """The account's servicers (on duty, in WeCom), as Kefu would have read them from WeCom."""
    async with rt.db.write() as session:
        for position, userid in enumerate(userids):
            session.add(
                Servicer(
                    account_id=account_id,
                    userid=userid,
                    position=position,
                    status=0,
                    in_wecom=True,
                    updated_at=rt.clock.now(),
                )
            )


def signed_callback(
    crypto: CallbackCrypto,
    inner_xml: str,
    *,
    timestamp: str | None = None,
    nonce: str = "1372623149",
    clock: Clock | None = None,
) -> tuple[dict[str, str], bytes]:
    """Query parameters and body of a POST exactly as WeCom sends it (wecom-kf-api.md §2.3),
    stamped with `clock` (Kefu's, so that the timestamp is fresh) or the wall clock."""
    timestamp = timestamp or str(int(clock.timestamp() if clock else time.time()))
    encrypted = crypto.encrypt(inner_xml)
    body = (
        f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
        f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()
    params = {
        "msg_signature": crypto.sign(timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    return params, body


def kf_event_xml(
    corp_id: str, open_kfid: str, token: str = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )


@asynccontextmanager
async def api_client(rt: Runtime, *, token_name: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Kefu's app over the real ASGI stack with a fresh admin token (named `token_name`, else a
    unique name, so a test may open several)."""
    async with rt.db.write() as session:
        _, token = await create_token(
            session, name=token_name or f"tests-{secrets.token_hex(4)}", now=rt.clock.now()
        )
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client
