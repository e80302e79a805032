"""Fixtures of the simulator conformance tests (`simulator` itself: tests/simulator_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, Receiver


@pytest.fixture
def kf(simulator: SimulatorServer) -> Iterator[Kf]:
    caller = Kf(simulator)
    yield caller
    caller.close()


@pytest.fixture
def receiver_factory(simulator: SimulatorServer) -> Iterator[Any]:
    """Start callback receivers for a corp and set the corp's callback URL (verified by GET)."""
    started: list[Receiver] = []

    def start(corp: dict[str, Any], **options: Any) -> Receiver:
        receiver = Receiver(corp, **options)
        started.append(receiver)
        simulator.control("PUT", f"corps/{corp['corpid']}/callback", {"url": receiver.url})
        return receiver

    yield start
    simulator.flush_callbacks()
    for receiver in started:
        receiver.stop()
