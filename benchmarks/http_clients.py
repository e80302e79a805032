"""CPU per WeCom call: httpx against Kefu's HttpClient (aiohttp), side by side in one run.

    .venv/bin/python benchmarks/http_clients.py            # 5 alternated rounds of 3,000 calls each
    .venv/bin/python benchmarks/http_clients.py --quick    # 2 rounds of 500

The peer is a minimal HTTP/1.1 server in another process that answers every request with
send_msg's JSON at once, so what is measured is the client's own work: this process's CPU
seconds (user + system) per call, 10 calls in flight on one keep-alive pool, a send_msg-sized
JSON body and an access_token in the query, as Kefu's transport sends them. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kefu_procs import free_port

from kefu.http_client import HttpClient

PEER = r"""
import asyncio, sys
BODY = b'{"errcode":0,"errmsg":"ok","msgid":"kefu1x2"}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
ANSWER = HEAD % len(BODY) + BODY

class Peer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, rest = self.buffer.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(Peer, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()

asyncio.run(main())
"""
BODY = {
    "touser": "wmAbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "open_kfid": "wkAbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "msgid": "kefu1x2",
    "msgtype": "text",
    "text": {"content": "您好，退货请在订单页申请，我们会安排上门取件，运费由我们承担。" * 3},
}
PARAMS = {"access_token": "t" * 64}
IN_FLIGHT = 10


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def cpu_us_per_call(call: Callable[[], Awaitable[None]], calls: int) -> float:
    await asyncio.gather(*[call() for _ in range(IN_FLIGHT)])  # connections open, code warm
    started = time.process_time()
    for _ in range(calls // IN_FLIGHT):
        await asyncio.gather(*[call() for _ in range(IN_FLIGHT)])
    return (time.process_time() - started) / calls * 1e6


async def with_httpx(url: str, calls: int) -> float:
    async with httpx.AsyncClient(timeout=10.0) as client:

        async def call() -> None:
            json.loads((await client.request("POST", url, params=PARAMS, json=BODY)).content)

        return await cpu_us_per_call(call, calls)


async def with_kefu(url: str, calls: int) -> float:
    async with HttpClient(timeout_s=10.0) as client:

        async def call() -> None:
            json.loads((await client.request("POST", url, params=PARAMS, json=BODY)).body)

        return await cpu_us_per_call(call, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 500 calls (CI's smoke run)")
    args = parser.parse_args()
    rounds, calls = (2, 500) if args.quick else (5, 3000)
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-c", PEER, str(port)])
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}/cgi-bin/kf/send_msg"
        results: dict[str, list[float]] = {"httpx": [], "kefu (aiohttp)": []}
        for _ in range(rounds):  # alternated, so a busy moment of the machine hits both
            results["httpx"].append(uvloop.run(with_httpx(url, calls)))
            results["kefu (aiohttp)"].append(uvloop.run(with_kefu(url, calls)))
    finally:
        peer.kill()
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, median in medians.items():
        print(f"{name:16s} {median:8.0f} µs CPU per call (median of {rounds} × {calls})")
    print(f"ratio kefu/httpx {medians['kefu (aiohttp)'] / medians['httpx']:.2f}")


if __name__ == "__main__":
    main()
