"""A small OpenAI-compatible chat server on loopback for the LLM provider's tests.

It is a real HTTP/1.1 server (the provider's httpx client talks to it over a socket, and may keep
the connection for the next request): it records each request (headers, JSON body and the
client's port, which tells the TCP connection) and answers from a queue of scripted replies — a
JSON content string, an HTTP status, or a delay before answering.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    content: str = '{"not_sure": true}'
    status: int = 200
    delay_s: float = 0.0


@dataclass
class FakeOpenAI:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)

    def reply(self, content: Any = None, *, status: int = 200, delay_s: float = 0.0) -> None:
        """Queue one reply; a dict or list content is sent as its JSON text."""
        text = (
            content
            if isinstance(content, str) or content is None
            else json.dumps(content, ensure_ascii=False)
        )
        self.replies.append(Reply(text if text is not None else '{"not_sure": true}', status, delay_s))

    def connections(self) -> int:
        """How many TCP connections the requests so far came on."""
        return len({request["port"] for request in self.requests})

    def prompt(self, index: int = -1) -> str:
        """All message contents of one request, joined: what left Kefu."""
        return "\n".join(m["content"] for m in self.requests[index]["body"]["messages"])


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as OpenAI's endpoints do

        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "port": self.client_address[1],
                }
            )
            reply = fake.replies.pop(0) if fake.replies else fake.default
            time.sleep(reply.delay_s)
            if reply.status != 200:
                payload = {"error": {"message": "scripted failure"}}
            else:
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                }
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

    return Handler


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
