"""Test helpers for the simulator's conformance tests: a WeCom caller over real HTTP,
and a real callback receiver (uvicorn in a thread) that verifies and decrypts."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import httpx
import uvicorn
from defusedxml import ElementTree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kefu.simulator import SimulatorServer
from kefu.simulator.callbacks import shared_ssl_context
from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wecom"
SUFFIX = ", hint: ["


def fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


class Kf:
    """One corp with one kf account, two servicers (zhangsan, lisi), one customer and a token."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.url, timeout=10, verify=shared_ssl_context())
        self.corp = sim.control("POST", "corps", {})
        self.corpid = self.corp["corpid"]
        self.token = self.gettoken()
        self.open_kfid = sim.control("POST", f"corps/{self.corpid}/accounts", {"name": "咨询客服"})[
            "open_kfid"
        ]
        sim.control("POST", f"accounts/{self.open_kfid}/servicers", {"userids": ["zhangsan", "lisi"]})
        self.customer = self.new_customer()

    def gettoken(self) -> str:
        answer = self.http.get(
            "/cgi-bin/gettoken", params={"corpid": self.corpid, "corpsecret": self.corp["secret"]}
        )
        return answer.json()["access_token"]

    def new_customer(self, **fields: Any) -> str:
        return self.sim.control("POST", f"corps/{self.corpid}/customers", fields)["external_userid"]

    def post(self, path: str, body: Any = None, *, token: str | None = None) -> dict[str, Any]:
        """POST with the cached token; like a real client, refetch once on 42001 (tests that move
        the clock by days) unless a token is given explicitly."""
        answer = self._post(path, body, token or self.token)
        if token is None and answer.get("errcode") == 42001:
            self.token = self.gettoken()
            answer = self._post(path, body, self.token)
        return answer

    def _post(self, path: str, body: Any, token: str) -> dict[str, Any]:
        answer = self.http.post(f"/cgi-bin/{path}", params={"access_token": token}, json=body)
        assert answer.status_code == 200, answer.text  # WeCom answers 200 even for errors
        return answer.json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.http.get(f"/cgi-bin/{path}", params={"access_token": self.token, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()

    # -- control shortcuts --

    def say(self, text: str, customer: str | None = None) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": text}}
        return self.sim.control("POST", f"customers/{customer or self.customer}/messages", body)["item"]

    def enter(self, customer: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, **fields}
        return self.sim.control("POST", f"customers/{customer or self.customer}/enter", body)["item"]

    def session(self, customer: str | None = None) -> dict[str, Any]:
        return self.sim.control("GET", f"accounts/{self.open_kfid}/sessions/{customer or self.customer}")

    def act(self, action: str, body: dict[str, Any], customer: str | None = None) -> dict[str, Any]:
        path = f"accounts/{self.open_kfid}/sessions/{customer or self.customer}/{action}"
        return self.sim.control("POST", path, body)["item"]

    def trans(self, state: int, servicer: str = "", customer: str | None = None) -> dict[str, Any]:
        body = {
            "open_kfid": self.open_kfid,
            "external_userid": customer or self.customer,
            "service_state": state,
        }
        if servicer:
            body["servicer_userid"] = servicer
        return self.post("kf/service_state/trans", body)

    def send_text(self, text: str = "您好", customer: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {
            "touser": customer or self.customer,
            "open_kfid": self.open_kfid,
            "msgtype": "text",
            "text": {"content": text},
            **extra,
        }
        return self.post("kf/send_msg", body)

    def sync(self, cursor: str = "", **extra: Any) -> dict[str, Any]:
        return self.post("kf/sync_msg", {"open_kfid": self.open_kfid, "cursor": cursor, **extra})

    def pull_all(self, cursor: str = "") -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.sync(cursor)
            assert page["errcode"] == 0, page
            items += page["msg_list"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return items, cursor

    def inbox(self, customer: str | None = None) -> list[dict[str, Any]]:
        return self.sim.control("GET", f"customers/{customer or self.customer}/inbox")["messages"]

    def sends(self, **params: Any) -> dict[str, Any]:
        return self.sim.control("GET", "sends", **params)

    def close(self) -> None:
        self.http.close()


def assert_error(answer: dict[str, Any], errcode: int) -> None:
    """An error in WeCom's exact shape: errcode plus errmsg with the hint suffix and the code link."""
    assert answer["errcode"] == errcode, answer
    assert SUFFIX in answer["errmsg"], answer
    assert answer["errmsg"].endswith(
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    )


# -- a real callback receiver ----------------------------------------------------------


@dataclass
class Received:
    query: dict[str, str]
    envelope: str
    plaintext: str

    def field(self, name: str) -> str:
        node = ElementTree.fromstring(self.plaintext).find(name)
        return "" if node is None or node.text is None else node.text


@dataclass
class Receiver:
    """Verifies the signature and decrypts with CallbackCrypto, like Kefu must.

    `slow_first` requests sleep `delay_s` (past the simulator's timeout) before answering;
    `status` is what it answers (non-200 makes the simulator re-send).
    """

    corp: dict[str, Any]
    status: int = 200
    slow_first: int = 0
    delay_s: float = 0.0
    posts: list[Received] = field(default_factory=list)
    verifications: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.crypto = CallbackCrypto(
            self.corp["callback_token"], self.corp["encoding_aes_key"], self.corp["corpid"]
        )
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/callback", self._handle, methods=["GET", "POST"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/callback"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)

    async def _handle(self, request: Request) -> Response:
        q = dict(request.query_params)
        try:
            if request.method == "GET":
                self.crypto.verify(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
                self.verifications += 1
                return PlainTextResponse(self.crypto.decrypt(q["echostr"]))
            envelope = (await request.body()).decode()
            encrypt = ElementTree.fromstring(envelope).findtext("Encrypt")
            self.crypto.verify(q["msg_signature"], q["timestamp"], q["nonce"], encrypt)
            plaintext = self.crypto.decrypt(encrypt)
        except (CallbackCryptoError, KeyError, ParseError) as exc:  # tests assert `errors` is empty
            self.errors.append(repr(exc))
            return PlainTextResponse("bad", status_code=400)
        with self._lock:
            self.posts.append(Received(q, envelope, plaintext))
            slow = len(self.posts) <= self.slow_first
        if slow:
            await asyncio.sleep(self.delay_s)  # real time: makes the simulator's timeout fire
        return PlainTextResponse("success", status_code=self.status)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
