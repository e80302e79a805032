"""Routing under concurrency (issue #10): `kefu serve` and 4 `kefu worker` processes on PostgreSQL,
the simulator serving HTTP, customers asking for a human and servicers ending sessions; no
assignment over a cap, none twice, Kefu and the simulator agree. The shortened run of
`benchmarks/routing_concurrency.py` (the full one: `--transfers 2000`); its checker
(`benchmarks/routing_checks.py`) is tested here on made-up logs too, so that a breach would be seen."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.routing_checks import replay
from benchmarks.routing_concurrency import Options, run

from tests.conftest import PG_URL

CAPS = {"a": 1, "b": 2}


def session(customer: str, *moves: tuple[int, int, int, str, str]) -> dict[str, Any]:
    """A simulator session read: moves as (seq, from, to, by, servicer)."""
    history = [
        {"seq": seq, "from_state": old, "to_state": new, "by": by, "servicer_userid": who}
        for seq, old, new, by, who in moves
    ]
    return {"external_userid": customer, "history": history}


def test_the_checker_finds_an_assignment_over_a_cap() -> None:
    sessions = [
        session("c1", (1, 4, 0, "customer", ""), (3, 0, 3, "api", "a"), (6, 3, 4, "servicer", "")),
        session("c2", (2, 4, 0, "customer", ""), (4, 0, 3, "api", "a")),  # a: 2 > 1
        session("c3", (5, 4, 0, "customer", ""), (7, 0, 3, "api", "b")),
    ]
    problems: list[str] = []
    figures: dict[str, Any] = {}
    assert replay(sessions, CAPS, problems, figures) == 3
    assert problems == ["the simulator saw 1 assignments over a cap: ['a had 2 (cap 1) at move 4']"]
    assert figures["peak_sessions"] == {"a": "2/1", "b": "1/2"}


def test_the_checker_finds_a_session_assigned_twice_but_not_a_new_session() -> None:
    sessions = [
        session(
            "c1",
            (1, 4, 0, "customer", ""),
            (2, 0, 3, "api", "b"),
            (3, 3, 3, "api", "a"),  # the same session moved again by Kefu
            (4, 3, 4, "servicer", ""),
            (5, 4, 0, "customer", ""),
            (6, 0, 3, "api", "b"),  # a new session: fine
        ),
    ]
    problems: list[str] = []
    assert replay(sessions, CAPS, problems, {}) == 3
    assert problems == ["1 sessions were assigned more than once by Kefu: [('c1', 1)]"]


@pytest.mark.db
@pytest.mark.e2e
@pytest.mark.skipif(
    not PG_URL,
    reason="needs PostgreSQL (KEFU_TEST_DATABASE_URL): worker processes share one database only there; "
    "on SQLite the one worker runs inside kefu serve",
)
def test_four_worker_processes_never_assign_over_a_cap_nor_twice(database_url: str) -> None:
    """CI's shortened run: 100 transfers, 100 customers for 79 places (20 servicers, caps 3–5)."""
    result = run(database_url, Options(transfers=100, customers=100), say=lambda _line: None)
    assert result.problems == [], result.figures
    assert result.transfers == result.figures["simulator_assignments"] == 100
    assert result.figures["routing_decisions"].get("pool", 0) > 0  # the pool and dispatch took part
