"""Reports at scale: the 30-day summary over 1,000 (or 10,000 with --full) conversations.

    .venv/bin/python benchmarks/reports.py [--full] [--runs 7] [--pg-url URL | --sqlite-only] [--json FILE]

For each database a fresh Kefu database is migrated with Kefu's own migrations and seeded
through Kefu's models by tests/history.py `seed_history` (two accounts; 1–3 sessions per
conversation over the 30 days before the clock, about a third handed to a human, ratings for
some). What is timed, each `--runs` times after one untimed warm-up, medians reported:

- **summary** — `kefu.reports.service.report()` for the last 30 days, all accounts, in one read
  transaction: what /api/v1/reports/summary and the 报表 page compute;
- **summary (one account)** — the same for the first account;
- **page** — GET /console/reports?from=…&to=… over the real ASGI stack, signed in as a
  supervisor: the summary plus the account list, the charts and the template.

PostgreSQL runs when reachable at `--pg-url` (default: the test server), in a scratch database
created and dropped here; otherwise a line says it was skipped. Target (product §5): the
page's summary under 200 ms on 10,000 conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.history, tests.factories: the tests' own seeding

from benchmarks.bench_setup import pg_available, scratch_runtime  # noqa: E402
from tests.console.conftest import login  # noqa: E402
from tests.factories import make_account, make_connection  # noqa: E402
from tests.history import seed_history  # noqa: E402

import kefu.registry  # noqa: E402, F401 — every model and task known, as in any Kefu process
from kefu.api import users  # noqa: E402
from kefu.app import create_app  # noqa: E402
from kefu.hours.schema import DEFAULT_TIMEZONE  # noqa: E402
from kefu.logs import configure_logging  # noqa: E402
from kefu.reception.models import SessionRecord  # noqa: E402
from kefu.reports.service import report  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
DAYS = 30
HEADER = (
    f"{'database':<10} {'conversations':>13} {'sessions':>8} {'summary ms':>10} {'1 account ms':>12} "
    f"{'page ms':>8} {'seed s':>7}"
)
PASSWORD = "benchmark password"  # noqa: S105 — a scratch database's user


async def _timed(runs: int, call: Any) -> list[float]:
    await call()  # warm-up: caches, prepared statements, the template
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def run_case(url: str, database: str, conversations: int, runs: int) -> dict[str, Any]:
    rt = scratch_runtime(url, NOW)
    clock = rt.clock
    try:
        connection, _ = await make_connection(rt, name="bench")
        accounts = [await make_account(rt, connection, f"wkBenchReports{n}") for n in range(2)]
        started = time.perf_counter()
        await seed_history(rt, conversations, accounts=accounts, end=NOW, days=DAYS)
        seed_s = time.perf_counter() - started
        async with rt.db.write() as session:
            await session.execute(text("ANALYZE"))  # fresh planner statistics, as a live database
            await users.create_user(session, username="boss", password=PASSWORD, role="supervisor")
        async with rt.db.read() as session:
            sessions = await session.scalar(select(func.count()).select_from(SessionRecord))
        last_day = NOW.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()  # all accounts: Kefu's default zone
        first_day = last_day - timedelta(days=DAYS - 1)

        async def summary(account_id: int | None = None) -> None:
            async with rt.db.read() as session:
                await report(
                    session, first_day=first_day, last_day=last_day, account_id=account_id, clock=clock
                )

        summary_ms = await _timed(runs, summary)
        one_account_ms = await _timed(runs, lambda: summary(accounts[0].id))
        app = create_app(runtime=rt, run_worker=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://kefu.bench"
        ) as client:
            await login(client, "boss", PASSWORD)
            path = f"/console/reports?from={first_day}&to={last_day}"

            async def page() -> None:
                answer = await client.get(path)
                assert answer.status_code == 200 and "bar-chart" in answer.text, answer.status_code

            page_ms = await _timed(runs, page)
    finally:
        await rt.close()
    return {
        "database": database,
        "conversations": conversations,
        "sessions": sessions,
        "summary_ms": round(statistics.median(summary_ms), 1),
        "one_account_ms": round(statistics.median(one_account_ms), 1),
        "page_ms": round(statistics.median(page_ms), 1),
        "summary_runs_ms": [round(t, 1) for t in summary_ms],
        "page_runs_ms": [round(t, 1) for t in page_ms],
        "seed_s": round(seed_s, 1),
    }


def pg_case(admin_url: str, conversations: int, runs: int) -> dict[str, Any]:
    name = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return asyncio.run(run_case(url, "postgresql", conversations, runs))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_case(conversations: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-reports-bench-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'kefu.db'}"
        return asyncio.run(run_case(url, "sqlite", conversations, runs))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10,000 conversations as well as 1,000")
    parser.add_argument("--conversations", type=int, nargs="+", help="conversation counts (overrides --full)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure (median reported)")
    parser.add_argument("--pg-url", default=os.environ.get("KEFU_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--json", type=Path, help="write the results here (default: benchmarks/results/)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    counts = args.conversations or ([1_000, 10_000] if args.full else [1_000])
    skipped = None if not args.sqlite_only else "--sqlite-only"
    if skipped is None:
        skipped = pg_available(args.pg_url)
    if skipped:
        print(f"PostgreSQL skipped: {skipped}")
    print(HEADER)
    results = []
    for count in counts:
        rows = [sqlite_case(count, args.runs)]
        if not skipped:
            rows.append(pg_case(args.pg_url, count, args.runs))
        for row in rows:
            results.append(row)
            print(
                f"{row['database']:<10} {row['conversations']:>13} {row['sessions']:>8} "
                f"{row['summary_ms']:>10.1f} {row['one_account_ms']:>12.1f} {row['page_ms']:>8.1f} "
                f"{row['seed_s']:>7.1f}",
                flush=True,
            )
    target = args.json or ROOT / "benchmarks" / "results" / f"reports-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
