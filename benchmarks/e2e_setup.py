"""What benchmarks/e2e.py measures, started against a simulator: Kefu (`kefu serve` on SQLite, or
`kefu serve` + 2 `kefu worker` on PostgreSQL, configured by `kefu config apply` for chaos_world's
ten accounts and optionally seeded with stored conversations), or the bare loop (bare_loop.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench_setup import pg_available, scratch_runtime
from chaos_world import ACCOUNTS, build_world, config_yaml
from kefu_procs import BIN, KefuProcess, cpu_seconds, free_port, fresh_database, rss_mb, wait_http
from kefu_procs import kefu as kefu_command
from sqlalchemy import create_engine, make_url, select, text

from kefu.accounts.models import KfAccount
from kefu.ai.kb_csv import demo_kb_csv
from kefu.reception.core.state import SENDABLE_STATES
from kefu.simulator import SimulatorServer
from kefu.simulator.state import Account, Customer

HERE = Path(__file__).resolve().parent
WORKERS = 2  # beside `kefu serve`, on PostgreSQL


class SkipCase(Exception):
    """This case cannot run here (PostgreSQL does not answer); the message says why."""


@dataclass
class Target:
    processes: str  # what runs, for the table
    procs: list[KefuProcess]
    pairs: list[tuple[Account, Customer]]  # customer i writes to account i % 10
    database_url: str | None = None
    _me: int = field(default_factory=os.getpid)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def load_cpu(self) -> float:
        return cpu_seconds(self._me)

    def rss(self) -> float:
        return sum(rss_mb(p.pid) for p in self.procs)

    def stored_check(self, sent: int) -> dict[str, int]:
        """Kefu's side of exactly once: every customer message stored once and processed."""
        if self.database_url is None:
            return {}
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                stored, distinct, processed = conn.execute(
                    text(
                        "SELECT count(*), count(DISTINCT msgid), count(processed_at) FROM messages"
                        " WHERE origin = 3 AND external_userid NOT LIKE 'wm_history_%'"
                    )
                ).one()
                failed = conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'failed'")).scalar_one()
        finally:
            engine.dispose()
        return {
            "lost": max(0, sent - int(distinct)),
            "stored_twice": int(stored) - int(distinct),
            "unprocessed": int(distinct) - int(processed),
            "failed_jobs": int(failed),
        }

    def held_back(self) -> Counter[str]:
        """Customer messages Kefu decided not to answer because of WeCom's quota (5 sends per
        customer message), by customer: one it has fallen more than 5 messages behind on gets the
        later ones answered (`answer_held_back`), and none once the quota is spent (stored while
        the session is in a state Kefu sends in; stored with a human or in the queue does not
        count). A message is decided once (exactly once), so one timeline entry each."""
        held: Counter[str] = Counter()
        if self.database_url is None:
            return held
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT c.external_userid, t.kind, t.detail FROM timeline_entries t"
                        " JOIN conversations c ON c.id = t.conversation_id"
                        " WHERE t.kind IN ('answer_held_back', 'customer_message_stored')"
                    )
                ).all()
        finally:
            engine.dispose()
        for external_userid, kind, detail in rows:
            detail = json.loads(detail) if isinstance(detail, str) else detail or {}
            if kind == "answer_held_back" or detail.get("state") in SENDABLE_STATES:
                held[external_userid] += 1
        return held

    def stop(self) -> list[str]:
        problems = []
        for proc in self.procs:
            if proc.proc is not None and proc.proc.poll() is not None:
                problems.append(f"{proc.name} had exited with {proc.proc.returncode} (see {proc.log})")
            proc.stop()
        return problems


def start_target(
    kind: str,
    database: str,
    sim: SimulatorServer,
    customers: int,
    stored: int,
    workdir: Path,
    pg_url: str,
    retrieval: str,
) -> Target:
    if database == "postgresql":
        why = pg_available(make_url(pg_url).set(database="postgres").render_as_string(hide_password=False))
        if why:
            raise SkipCase(f"PostgreSQL does not answer at {pg_url}: {why}")
    world = build_world(sim, customers)
    corp = world["corp"]
    with sim.state.lock:
        accounts = [sim.state.accounts[a["open_kfid"]] for a in world["accounts"]]
        pairs = [(accounts[i % ACCOUNTS], sim.state.customers[c]) for i, c in enumerate(world["customers"])]
    port = free_port()
    if kind == "bare":
        argv = [sys.executable, str(HERE / "bare_loop.py"), str(port), corp["callback_token"]]
        argv += [corp["encoding_aes_key"], corp["corpid"], corp["secret"], sim.url]
        procs = [KefuProcess("bare", argv, dict(os.environ), workdir / "bare.log")]
        callback, verify, database_url = f"http://127.0.0.1:{port}/wecom/callback/1", False, None
        processes = "bare loop"
    else:
        database_url = fresh_database(database, pg_url, workdir)
        env = {
            **os.environ,
            "KEFU_ENV": "development",
            "KEFU_DATABASE_URL": database_url,
            "KEFU_SECRET_KEY": "e2e-benchmark-secret-key",
            "KEFU_WECOM_API_BASE": sim.url,
            "KEFU_LOG_LEVEL": "WARNING",
            "CHAOS_KF_SECRET": corp["secret"],
            "CHAOS_CB_TOKEN": corp["callback_token"],
            "CHAOS_AES_KEY": corp["encoding_aes_key"],
        }
        kefu_command(env, "db", "upgrade")
        kb = workdir / "demo_kb.csv"
        kb.write_bytes(demo_kb_csv())
        ai = f"{{provider: builtin, retrieval: {retrieval}}}"
        (workdir / "kefu.yaml").write_text(config_yaml(world, kb=kb, ai=ai), encoding="utf-8")
        kefu_command(env, "config", "apply", str(workdir / "kefu.yaml"))
        if stored:
            asyncio.run(seed(database_url, stored))
        engine = create_engine(database_url)
        with engine.connect() as conn:
            connection_id = conn.execute(text("SELECT id FROM connections")).scalar_one()
        engine.dispose()
        procs = [
            KefuProcess(
                "serve", [str(BIN / "kefu"), "serve", "--port", str(port)], env, workdir / "serve.log"
            )
        ]
        if database == "postgresql":
            procs += [
                KefuProcess(f"worker{n}", [str(BIN / "kefu"), "worker"], env, workdir / f"worker{n}.log")
                for n in range(1, WORKERS + 1)
            ]
        callback, verify = f"http://127.0.0.1:{port}/wecom/callback/{connection_id}", True
        processes = "serve" if database == "sqlite" else f"serve + {WORKERS} workers"
    for proc in procs:
        proc.start()
    target = Target(processes, procs, pairs, database_url)
    try:
        wait_http(f"http://127.0.0.1:{port}/{'healthz' if kind == 'kefu' else 'wecom/callback/1'}")
        sim.control("PUT", f"corps/{corp['corpid']}/callback", {"url": callback, "verify": verify})
    except Exception:
        target.stop()
        raise
    return target


async def seed(database_url: str, conversations: int) -> None:
    """Stored history through Kefu's models (tests/history.py), spread over the ten accounts."""
    sys.path.insert(0, str(HERE.parent))
    from tests.history import seed_history

    import kefu.registry  # noqa: F401  (every model known, as in any Kefu process)

    now = datetime.now(UTC)
    rt = scratch_runtime(database_url, now)
    try:
        async with rt.db.read() as session:
            accounts = list((await session.scalars(select(KfAccount).order_by(KfAccount.id))).all())
        await seed_history(rt, conversations, accounts=accounts, end=now)
    finally:
        await rt.close()
