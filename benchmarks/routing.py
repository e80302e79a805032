"""Routing at scale: one routing decision and one dispatch round, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/routing.py [--json FILE] [--pg-url URL] [--quick]

For each database and each case of servicers (10, 100, 1,000) × waiting customers (100, 1,000,
10,000) a fresh Kefu database is migrated with Kefu's own migrations and seeded in bulk
through Kefu's models: one connection and account (idle routing, open all day, the default cap
of 10 sessions), the servicers all on duty with loads 0..9 (servicer i serves i mod 10 customers,
so about half the capacity is free), those customers in human sessions, and the waiting
customers in the pool (wecom_state 2) queued a second apart.

What is timed:

- **decision** — a routing decision as `reception.shell.decide_and_apply` makes it for one
  customer: `reception.service.roster()` (the servicers, their loads across the corp, the
  exclusive servicer, the rotation pointer, the pool's length — five queries) and the pure
  `routing.core.choose` over it, in one read transaction, for a customer drawn at random from
  the pool; repeated `--decisions` times (200) → p50 and p99.
- **dispatch round** — the real task `reception.dispatch.dispatch_round(rt, account_id=…)`,
  whole: it loads the account, its settings, the pool in queue order and the roster, plans with
  the pure `plan_round` and enqueues one `reception.feed` job per pick, then commits. Nothing
  reaches WeCom (the feeds would do that when a worker runs them; none runs here). Between
  rounds the feed jobs it wrote are deleted (not timed), so every round sees the same pool →
  median of `--rounds` rounds (3).

PostgreSQL runs when reachable at `--pg-url` (default: the test server,
postgresql+psycopg://postgres@127.0.0.1:5432/test), in a scratch database created and dropped
here; otherwise a line says it was skipped. `--quick` runs a small grid on SQLite only (the
test suite's smoke run). The table goes to stdout; the JSON (one object per case: servicers,
waiting, database, decision_p50_ms, decision_p99_ms, dispatch_round_ms, and the raw figures) to
`--json FILE`, else to benchmarks/results/routing-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.factories: the same connection and account rows as the tests

from benchmarks.bench_setup import pg_available, scratch_runtime  # noqa: E402
from tests.factories import make_account, make_connection  # noqa: E402

import kefu.registry  # noqa: E402, F401 — every task registered, as in any Kefu process
from kefu.accounts.models import KfAccount, Servicer  # noqa: E402
from kefu.jobs.models import Job  # noqa: E402
from kefu.logs import configure_logging  # noqa: E402
from kefu.reception import service  # noqa: E402
from kefu.reception.core import ConversationState  # noqa: E402
from kefu.reception.dispatch import dispatch_round  # noqa: E402
from kefu.reception.models import Conversation  # noqa: E402
from kefu.reception.shell import FEED_TASK  # noqa: E402
from kefu.routing.core import choose  # noqa: E402
from kefu.runtime import Runtime  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERVICERS = (10, 100, 1_000)
WAITING = (100, 1_000, 10_000)
QUICK = ((10, 100), (100, 1_000))
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai
CAP = 10
ALL_DAY = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ACCOUNT_SETTINGS = {
    "hours": {"weekly": ALL_DAY, "statutory_holidays": False},
    "routing": {"rules": [{"rule": "idle"}]},
    "queue": {"default_max_sessions": CAP},
}


def _state(wecom_state: int, owner: str, since: datetime, **fields: Any) -> dict[str, Any]:
    return ConversationState.model_validate(
        {
            "wecom_state": wecom_state,
            "owner": owner,
            "session_no": 1,
            "session_started_at": since - timedelta(seconds=5),
            "last_customer_message_at": since,
            "last_activity_at": since,
            **fields,
        }
    ).model_dump(mode="json")


async def seed(rt: Runtime, servicers: int, waiting: int) -> int:
    """One account with `servicers` on duty (servicer i serving i mod CAP customers) and
    `waiting` customers in the pool; returns the account's id. Bulk inserts: 10,000 waiting
    customers take about a second."""
    connection, _ = await make_connection(rt, name="bench")
    account = await make_account(rt, connection, open_kfid="wkBenchRouting0001")
    async with rt.db.write() as session:
        row = await session.get(KfAccount, account.id)
        assert row is not None
        row.settings = ACCOUNT_SETTINGS
    userids = [f"servicer{i:04d}" for i in range(servicers)]
    servicer_rows = [
        {
            "account_id": account.id,
            "userid": userid,
            "position": i,
            "status": 0,
            "in_wecom": True,
            "idle_since": NOW - timedelta(minutes=i % 17),
            "updated_at": NOW,
        }
        for i, userid in enumerate(userids)
    ]
    conversations: list[dict[str, Any]] = []
    for i, userid in enumerate(userids):
        for n in range(i % CAP):
            since = NOW - timedelta(minutes=30, seconds=n)
            conversations.append(
                _conversation(
                    account.id,
                    f"busy-{i}-{n}",
                    _state(3, "servicer", since, servicer_userid=userid),
                    3,
                    "servicer",
                    servicer_userid=userid,
                )
            )
    for n in range(waiting):
        since = NOW - timedelta(seconds=waiting - n)
        conversations.append(
            _conversation(
                account.id,
                f"waiting-{n}",
                _state(2, "pool", since, queued_at=since),
                2,
                "pool",
                queued_at=since,
            )
        )
    async with rt.db.write() as session:
        await session.execute(insert(Servicer), servicer_rows)
        for start in range(0, len(conversations), 2_000):
            await session.execute(insert(Conversation), conversations[start : start + 2_000])
    async with rt.db.write() as session:  # fresh planner statistics, as a live database would have
        await session.execute(text("ANALYZE"))
    return account.id


def _conversation(
    account_id: int,
    external_userid: str,
    state: dict[str, Any],
    wecom_state: int,
    owner: str,
    *,
    servicer_userid: str | None = None,
    queued_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "external_userid": external_userid,
        "state": state,
        "wecom_state": wecom_state,
        "owner": owner,
        "servicer_userid": servicer_userid,
        "session_no": 1,
        "queued_at": queued_at,
        "last_message_at": NOW - timedelta(minutes=1),
        "last_customer_message_at": NOW - timedelta(minutes=1),
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW,
    }


async def decisions(rt: Runtime, account_id: int, count: int, rng: random.Random) -> list[float]:
    """Milliseconds per routing decision: roster() and choose() for a random waiting customer
    (loaded first, untimed: the shell has the conversation in hand when it routes)."""
    async with rt.db.read() as session:
        account = await session.get(KfAccount, account_id)
        assert account is not None
        settings = await service.load_account_settings(session, account)
        pool = (
            await session.scalars(
                select(Conversation.id).where(
                    Conversation.account_id == account_id, Conversation.wecom_state == 2
                )
            )
        ).all()
    timings, assigned = [], 0
    for _ in range(count):
        async with rt.db.read() as session:
            conversation = await session.get(Conversation, rng.choice(pool))
            assert conversation is not None
            state = service.state_of(conversation)
            started = time.perf_counter()
            roster = await session.run_sync(service.roster, account, settings, conversation)
            decision = choose(settings.routing.rules, roster, last_userid=state.last_servicer())
            timings.append((time.perf_counter() - started) * 1000)
        assigned += decision.outcome == "assign"
    assert assigned == count, "every decision should find a servicer with room"
    return timings


async def dispatch_rounds(rt: Runtime, account_id: int, rounds: int) -> tuple[list[float], int]:
    """Milliseconds per dispatch round, and how many customers a round picked."""
    timings, picked = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        await dispatch_round(rt, account_id=account_id)
        timings.append((time.perf_counter() - started) * 1000)
        async with rt.db.write() as session:
            picked = len((await session.scalars(select(Job.id).where(Job.task == FEED_TASK))).all())
            await session.execute(delete(Job).where(Job.task == FEED_TASK))
    return timings, picked


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run_case(
    url: str, database: str, servicers: int, waiting: int, args: argparse.Namespace
) -> dict[str, Any]:
    rt = scratch_runtime(url, NOW)
    try:
        started = time.perf_counter()
        account_id = await seed(rt, servicers, waiting)
        seed_s = time.perf_counter() - started
        decision_ms = await decisions(
            rt, account_id, args.decisions, random.Random(servicers * 100_003 + waiting)
        )
        round_ms, picked = await dispatch_rounds(rt, account_id, args.rounds)
    finally:
        await rt.close()
    return {
        "servicers": servicers,
        "waiting": waiting,
        "database": database,
        "decision_p50_ms": round(percentile(decision_ms, 50), 3),
        "decision_p99_ms": round(percentile(decision_ms, 99), 3),
        "dispatch_round_ms": round(statistics.median(round_ms), 3),
        "dispatch_rounds_ms": [round(t, 3) for t in round_ms],
        "dispatch_picked": picked,
        "decisions": len(decision_ms),
        "seed_s": round(seed_s, 3),
    }


def pg_case(admin_url: str, args: argparse.Namespace, servicers: int, waiting: int) -> dict[str, Any]:
    name = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return asyncio.run(run_case(url, "postgresql", servicers, waiting, args))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_case(args: argparse.Namespace, servicers: int, waiting: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-routing-bench-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'kefu.db'}"
        return asyncio.run(run_case(url, "sqlite", servicers, waiting, args))


def print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['database']:<10} {row['servicers']:>9} {row['waiting']:>8} {row['decision_p50_ms']:>12.2f} "
        f"{row['decision_p99_ms']:>12.2f} {row['dispatch_round_ms']:>11.1f} {row['dispatch_picked']:>7} "
        f"{row['seed_s']:>7.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write one object per case to this file")
    parser.add_argument("--pg-url", default=os.environ.get("KEFU_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--quick", action="store_true", help="a small grid on SQLite only (a smoke run)")
    parser.add_argument("--decisions", type=int, default=200, help="routing decisions per case")
    parser.add_argument("--rounds", type=int, default=3, help="dispatch rounds per case")
    parser.add_argument("--servicers", type=int, nargs="+", default=SERVICERS, help="servicer counts")
    parser.add_argument("--waiting", type=int, nargs="+", default=WAITING, help="waiting-customer counts")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    # As `kefu serve` and `kefu worker` do before serving (app.settle_process, less the AI's
    # warm-up): what is loaded so far is out of the garbage collector's sight.
    gc.collect()
    gc.freeze()
    grid = list(QUICK) if args.quick else [(s, w) for s in args.servicers for w in args.waiting]
    if args.quick:
        args.decisions, args.rounds = min(args.decisions, 50), min(args.rounds, 2)
    databases = ["sqlite"]
    if not (args.quick or args.sqlite_only):
        why = pg_available(args.pg_url)
        if why is None:
            databases.append("postgresql")
        else:
            print(f"PostgreSQL skipped: not reachable at {args.pg_url} ({why})", flush=True)
    print(
        f"routing benchmark: {args.decisions} decisions (p50/p99) and the median of {args.rounds} "
        f"dispatch rounds per case; {os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    print(
        f"{'database':<10} {'servicers':>9} {'waiting':>8} {'decision p50':>12} {'decision p99':>12} "
        f"{'round ms':>11} {'picked':>7} {'seed s':>7}",
        flush=True,
    )
    rows = []
    for database in databases:
        for servicers, waiting in grid:
            if database == "sqlite":
                row = sqlite_case(args, servicers, waiting)
            else:
                row = pg_case(args.pg_url, args, servicers, waiting)
            print_row(row)
            rows.append(row)
    out = args.json
    if out is None and not args.quick:  # as every benchmark here: raw figures in benchmarks/results/
        out = ROOT / "benchmarks" / "results" / f"routing-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(exist_ok=True)
    if out is not None:
        out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
