"""Kefu's HTTP client for WeCom's API (aiohttp): the environment's proxy, a timeout, another loop."""

from __future__ import annotations

import asyncio
import json

import pytest

from kefu.http_client import HttpClient, HttpClientError

ANSWER = b'{"errcode":0,"errmsg":"ok"}'


class Peer:
    """A loopback HTTP/1.1 server that records each request line and answers ANSWER (or never)."""

    def __init__(self, *, answer: bool = True) -> None:
        self.answer = answer
        self.request_lines: list[str] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Peer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        self.request_lines.append(head.split("\r\n", 1)[0])
        length = next(
            (
                int(line.split(":")[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        if not self.answer:
            await asyncio.sleep(3600)
        header = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(ANSWER)}\r\n\r\n"
        writer.write(header.encode() + ANSWER)
        await writer.drain()
        writer.close()


async def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Peer() as proxy, Peer() as wecom:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with HttpClient(timeout_s=5.0) as client:
            answer = await client.request("GET", f"{wecom.url}/cgi-bin/gettoken", params={"corpid": "ww1"})
        assert json.loads(answer.body) == {"errcode": 0, "errmsg": "ok"}
        # Through the proxy: it was asked for the absolute URL; WeCom's side saw nothing directly.
        assert proxy.request_lines == [f"GET {wecom.url}/cgi-bin/gettoken?corpid=ww1 HTTP/1.1"]
        assert wecom.request_lines == []

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with HttpClient(timeout_s=5.0) as client:
            await client.request("POST", f"{wecom.url}/cgi-bin/kf/send_msg", params={}, json={"a": 1})
        assert wecom.request_lines == ["POST /cgi-bin/kf/send_msg HTTP/1.1"]
        assert len(proxy.request_lines) == 1


async def test_no_answer_within_the_timeout_is_a_client_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    async with Peer(answer=False) as silent, HttpClient(timeout_s=0.2) as client:
        with pytest.raises(HttpClientError, match="TimeoutError"):
            await client.request("GET", f"{silent.url}/cgi-bin/kf/sync_msg", params={})


def test_one_client_serves_event_loops_one_after_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI command or a test may run several loops in turn: each gets a session of its own."""
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    client = HttpClient(timeout_s=5.0)

    async def call() -> bytes:
        async with Peer() as wecom:
            answer = await client.request("GET", f"{wecom.url}/cgi-bin/kf/account/list", params={})
        await client.close()
        return answer.body

    assert asyncio.run(call()) == ANSWER
    assert asyncio.run(call()) == ANSWER
