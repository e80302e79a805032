"""A small real WeCom-like HTTP server for the client's tests: scripted answers per path, every request kept.

It runs under uvicorn in a thread on a free loopback port. By default it
issues tokens from `gettoken` (checking corpid and secret), answers 41001 /
40014 / 42001 for a missing, unknown or revoked token, echoes the msgid of
sends and answers `{"errcode": 0}` elsewhere. A test queues `Reply`s for a
path to script faults the simulator does not offer, e.g. `Reply(drop=True)`:
the request is processed and recorded, then the connection closes before a
complete answer — a lost response.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

CORP_ID = "ww5823bf96d3bd56c7"
SECRET = "app-secret-0123456789"
ERR_SUFFIX = ", hint: [1700000000_1_abcdef], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"


def wecom_error(code: int, head: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": head + ERR_SUFFIX.format(code=code)}


@dataclass
class Reply:
    json: dict[str, Any] | None = None
    status: int = 200
    body: bytes | None = None  # raw body instead of JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # record the request, then close the connection without a complete answer


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Script = Reply | Callable[[Recorded], Reply]


class ScriptedWeCom:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: list[Recorded] = []
            self._scripts: dict[str, deque[Script]] = defaultdict(deque)
            self._issued: set[str] = set()
            self._revoked: set[str] = set()
            self._counter = 0

    def script(self, path: str, *replies: Script) -> None:
        """Queue answers for `/cgi-bin/<path>`; each is used once, then the default applies."""
        with self._lock:
            self._scripts[f"/cgi-bin/{path}"].extend(replies)

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == f"/cgi-bin/{path}"]

    def issued_tokens(self) -> set[str]:
        with self._lock:
            return set(self._issued)

    def revoke_tokens(self) -> None:
        """WeCom invalidated every token early: the next use answers 42001."""
        with self._lock:
            self._revoked |= self._issued

    def _answer(self, req: Recorded) -> Reply:
        with self._lock:
            self.requests.append(req)
            if req.path != "/cgi-bin/gettoken":
                token = req.query.get("access_token")
                if not token:
                    return Reply(wecom_error(41001, "access_token missing"))
                if token in self._revoked:
                    return Reply(wecom_error(42001, "access_token expired"))
                if token not in self._issued:
                    return Reply(wecom_error(40014, "invalid access_token"))
            queue = self._scripts.get(req.path)
            if queue:
                script = queue.popleft()
                return script(req) if callable(script) else script
            return self._default(req)

    def _default(self, req: Recorded) -> Reply:
        if req.path == "/cgi-bin/gettoken":
            if req.query.get("corpid") != CORP_ID:
                return Reply(wecom_error(40013, "invalid corpid"))
            if req.query.get("corpsecret") != SECRET:
                return Reply(wecom_error(40001, "invalid credential"))
            self._counter += 1
            token = f"ACCESS_TOKEN_{self._counter:04d}_" + "x" * 40
            self._issued.add(token)
            return Reply({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
        if req.path in ("/cgi-bin/kf/send_msg", "/cgi-bin/kf/send_msg_on_event"):
            return Reply({"errcode": 0, "errmsg": "ok", "msgid": req.json.get("msgid") or "generated"})
        return Reply({"errcode": 0, "errmsg": "ok"})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        req = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=dict(parse_qsl(scope["query_string"].decode())),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        reply = self._answer(req)
        body = reply.body if reply.body is not None else json.dumps(reply.json or {}).encode()
        headers = {"content-type": "application/json; charset=UTF-8", **reply.headers}
        if reply.drop:
            # Promise more than we send, then stop: the client sees the connection close mid-answer.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", str(len(body) + 100).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body[:5], "more_body": True})
            return
        headers["content-length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


class ServerThread:
    """An ASGI app served by uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("scripted WeCom server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
