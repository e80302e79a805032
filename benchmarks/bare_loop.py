"""The limit for benchmarks/e2e.py: a process that does only what WeCom forces on any receiver —
verify and decrypt each callback (bare_endpoint.py's work), answer `success`, then one `sync_msg`
with the callback's Token (more only while `has_more`), and one `send_msg` per customer message.
No database, no AI, no retries beyond a token refresh. Its WeCom calls go through the same HTTP
client as Kefu's (kefu.http_client), so the ratio measures what Kefu adds, not a client choice.

    python benchmarks/bare_loop.py PORT TOKEN AES_KEY CORP_ID SECRET WECOM_API_BASE
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kefu.http_client import HttpClient
from kefu.wecom.crypto import CallbackCrypto

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_endpoint import decrypt_callback

EXPIRED = (40014, 42001)  # invalid / expired access_token


class Loop:
    def __init__(self, corp_id: str, secret: str, api_base: str) -> None:
        self.corp_id, self.secret = corp_id, secret
        self.api_base = api_base.rstrip("/")
        self.http = HttpClient(timeout_s=30)
        self.token = ""
        self.cursors: dict[str, str] = {}
        # One pull at a time per account: its cursor moves in order (as WeCom requires).
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.running: set[asyncio.Task[None]] = set()

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for _ in range(2):
            if not self.token:
                got = await self.http.request(
                    "GET",
                    f"{self.api_base}/cgi-bin/gettoken",
                    params={"corpid": self.corp_id, "corpsecret": self.secret},
                )
                self.token = json.loads(got.body)["access_token"]
            sent = await self.http.request(
                "POST", f"{self.api_base}{path}", params={"access_token": self.token}, json=body
            )
            answer = json.loads(sent.body)
            if answer.get("errcode") in EXPIRED:
                self.token = ""
                continue
            return dict(answer)
        raise RuntimeError(f"{path}: {answer}")

    def spawn(self, open_kfid: str, sync_token: str) -> None:
        task = asyncio.create_task(self.pull(open_kfid, sync_token))
        self.running.add(task)  # a reference, or the task may be collected mid-way
        task.add_done_callback(self.running.discard)

    async def pull(self, open_kfid: str, sync_token: str) -> None:
        async with self.locks[open_kfid]:
            has_more = True
            while has_more:
                page = await self.call(
                    "/cgi-bin/kf/sync_msg",
                    {"cursor": self.cursors.get(open_kfid, ""), "token": sync_token, "open_kfid": open_kfid},
                )
                if page.get("errcode"):
                    print(f"sync_msg: {page}", file=sys.stderr)
                    return
                self.cursors[open_kfid] = page["next_cursor"]
                has_more = bool(page["has_more"])
                for item in page["msg_list"]:
                    if item.get("origin") == 3:
                        sent = await self.call(
                            "/cgi-bin/kf/send_msg",
                            {
                                "touser": item["external_userid"],
                                "open_kfid": open_kfid,
                                "msgtype": "text",
                                "text": {"content": "收到"},
                            },
                        )
                        if sent.get("errcode"):
                            print(f"send_msg: {sent}", file=sys.stderr)


def make_app(crypto: CallbackCrypto, loop: Loop) -> Starlette:
    async def receive(request: Request) -> PlainTextResponse:
        event = await decrypt_callback(request, crypto)
        if event is None:
            return PlainTextResponse("refused", status_code=403)
        if event.get("Event") != "kf_msg_or_event":
            return PlainTextResponse("success")
        # Acknowledge at once (WeCom's 5 s) and pull beside it: not as the response's background
        # task, which would hold the keep-alive connection (and the next callback) until done.
        loop.spawn(event.get("OpenKfId", ""), event.get("Token", ""))
        return PlainTextResponse("success")

    return Starlette(routes=[Route("/wecom/callback/{connection_id}", receive, methods=["POST"])])


if __name__ == "__main__":
    port, token, aes_key, corp_id, secret, api_base = sys.argv[1:7]
    uvicorn.run(
        make_app(CallbackCrypto(token, aes_key, corp_id), Loop(corp_id, secret, api_base)),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )
