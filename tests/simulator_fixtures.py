"""pytest plugin: the `simulator` fixture (registered in tests/conftest.py).

A WeCom simulator running on a free loopback port for one test, with a fresh
world and the test's frozen `clock` (so Kefu and the simulator share one clock).
Callbacks time out after 0.5 s so re-send tests stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kefu.clock import Clock
from kefu.simulator import SimulatorServer


@pytest.fixture
def simulator(clock: Clock) -> Iterator[SimulatorServer]:
    """`simulator.url` (set `KEFU_WECOM_API_BASE` to it), `.clock`, `.state`, `.control(...)`."""
    with SimulatorServer(clock=clock, callback_timeout_s=0.5) as server:
        yield server
