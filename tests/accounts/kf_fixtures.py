"""Fixtures of the account tests: a saved connection to a simulator corp with members, images.

`kf_connection`: the `corp` of tests.accounts.fixtures (two manageable accounts, one not),
saved as connection "qinghe" (its check listed the accounts, so they have rows), plus the
members zhangsan, lisi and wangwu.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import pytest

from kefu.accounts import connection_ops
from kefu.accounts.models import Connection
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, Corp

MEMBERS = ("zhangsan", "lisi", "wangwu")


def png(width: int, height: int, rgb: tuple[int, int, int] = (26, 173, 25)) -> bytes:
    """A real PNG of one colour (the simulator and Kefu only see bytes; WeCom would look)."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def read_png(data: bytes) -> tuple[int, int, int]:
    """Decode a PNG far enough to trust it: (width, height, colour type), every CRC checked, and
    the pixel data inflating to exactly the size the header promises."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert header is not None and idat
    width, height, depth, colour, *_ = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row_bytes = (width * channels * depth + 7) // 8
    assert len(zlib.decompress(idat)) == height * (1 + row_bytes)
    return width, height, colour


@dataclass
class KfWorld:
    corp: Corp
    connection: Connection
    simulator: SimulatorServer

    def account(self, open_kfid: str) -> dict[str, Any]:
        return self.simulator.control("GET", f"accounts/{open_kfid}")

    def media_count(self) -> int:
        with self.simulator.state.lock:
            return len(self.simulator.state.media)

    def avatar_bytes(self, open_kfid: str) -> bytes:
        with self.simulator.state.lock:
            account = self.simulator.state.accounts[open_kfid]
            return self.simulator.state.media[account.media_id].data

    def names(self) -> list[str]:
        with self.simulator.state.lock:
            corp = self.simulator.state.corps[self.corp.corpid]
            return [self.simulator.state.accounts[i].name for i in corp.account_ids]


@pytest.fixture
async def kf(rt: Runtime, corp: Corp, simulator: SimulatorServer) -> KfWorld:
    for userid in MEMBERS:
        simulator.control("POST", f"corps/{corp.corpid}/members", json={"userid": userid})
    connection, check = await connection_ops.create_connection(
        rt, name="qinghe", corp_id=corp.corpid, secret=corp.secret, callback_token=CB_TOKEN, aes_key=AES_KEY
    )
    assert check.ok, check.message
    return KfWorld(corp=corp, connection=connection, simulator=simulator)
