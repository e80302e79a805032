"""Routing under concurrency: `kefu serve` and 4 `kefu worker` processes on PostgreSQL route
thousands of transfers over 20 servicers with caps; no servicer ever goes over a cap and no
customer is assigned twice (issue #10).

    .venv/bin/python benchmarks/routing_concurrency.py --transfers 2000
    .venv/bin/python benchmarks/routing_concurrency.py --transfers 200 --database-url postgresql+psycopg://…

Everything is real: the WeCom simulator (in this process, over HTTP), Kefu's database on
PostgreSQL (a fresh database `kefu_routing_bench` on the server of `--database-url`, or the
URL's own database with `--use-database`), Kefu configured by `kefu config apply`, `kefu serve`
receiving the simulator's callbacks, and `kefu worker` processes running every job. Customers
write 转人工 (the transfer keyword) from fresh sessions; servicers end sessions in the WeCom app
(the simulator's control API) after a random short time once they are at their cap (at the latest
after 15 s), so servicers stay full and every end frees one place that Kefu's pool dispatch and
new requests race for; customers whose session ended write again a little later, until
`--transfers` customers have asked for a human and all of them have been assigned.

Then it checks, and reports every breach as a problem:

- the simulator's session histories, merged in their world-wide order (`seq`): at each
  assignment Kefu made (`trans` → 3), the servicer's sessions in state 3 never exceed their cap;
  each session was assigned by Kefu exactly once (no second `trans` → 3);
- Kefu's records: every `assign` routing decision chose someone below their cap (the load it
  counted), one per session that was assigned; every `trans` → 3 Kefu sent succeeded, and their
  number equals the simulator's assignments;
- once Kefu has caught up (all requests assigned, then again after every session ended):
  each conversation's `wecom_state` and `servicer_userid` are the simulator's session.

`tests/reception/test_routing_concurrency.py` runs a shortened version on CI's PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kefu_procs import free_port, wait_http
from routing_checks import ENDED, HUMAN, Result, check, kefu_conversations, settle
from routing_world import Kefu, config_file, fresh_database

from kefu.clock import Clock
from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
KEYWORD = "转人工"


@dataclass
class Options:
    transfers: int = 2000
    customers: int = 200  # at once; each asks again after their session ended
    servicers: int = 20
    default_cap: int = 4
    # Per-servicer overrides of the default cap: (every n-th servicer, cap).
    cap_overrides: tuple[tuple[int, int], ...] = ((3, 3), (5, 5))
    workers: int = 4
    concurrency: int = 4  # jobs at once per worker process
    # A servicer ends a session after a random hold, but only once they are at their cap (at the
    # latest after max_hold_s): servicers stay full, and every end frees one place that dispatch
    # and new requests race for.
    hold_s: tuple[float, float] = (0.5, 3.0)
    max_hold_s: float = 15.0
    think_s: tuple[float, float] = (0.0, 2.0)  # before a customer whose session ended asks again
    settle_timeout_s: float = 300.0
    stall_s: float = 90.0  # no assignment for this long while customers wait: a lost request
    run_timeout_s: float = 3600.0
    seed: int = 10

    def caps(self) -> dict[str, int]:
        caps = {}
        for i in range(1, self.servicers + 1):
            cap = self.default_cap
            for every, override in self.cap_overrides:
                if i % every == 0:
                    cap = override
            caps[f"s{i:02d}"] = cap
        return caps


# --- the run ------------------------------------------------------------------------------------


class Driver:
    """Customers asking for a human and servicers ending sessions, through the control API."""

    def __init__(self, sim: SimulatorServer, open_kfid: str, customers: list[str], options: Options) -> None:
        self.sim, self.open_kfid, self.customers, self.options = sim, open_kfid, customers, options
        self.random = random.Random(options.seed)
        self.http = httpx.Client(base_url=sim.url + "/_sim/api", timeout=30, trust_env=False)
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="driver")
        self.inflight: set[str] = set()
        self.requests = 0
        self.assigned = 0  # sessions seen in 3 (only Kefu moves anyone into 3 in this run)
        self.serving: dict[str, tuple[str, float, float]] = {}  # customer → (servicer, hold, at most)
        self.caps = options.caps()
        self.ready_at: dict[str, float] = dict.fromkeys(customers, 0.0)
        self.end_conflicts = 0
        self.errors: list[str] = []

    def snapshot(self) -> dict[str, tuple[int, str]]:
        """What the simulator shows now (read in process: the driver only looks, it acts over HTTP)."""
        world = self.sim.state
        with world.lock:
            return {
                c: (world.session(self.open_kfid, c).state, world.session(self.open_kfid, c).servicer_userid)
                for c in self.customers
            }

    def _call(self, customer: str, path: str, body: dict[str, Any]) -> None:
        try:
            answer = self.http.post(path, json=body)
            if answer.status_code == 409 and path.endswith("/end"):
                self.end_conflicts += 1
            elif answer.is_error:
                self.errors.append(f"POST {path}: {answer.status_code} {answer.text}")
        finally:
            self.inflight.discard(customer)

    def act(self, customer: str, path: str, body: dict[str, Any]) -> None:
        self.inflight.add(customer)
        self.pool.submit(self._call, customer, path, body)

    def step(self, *, asking: bool = True) -> None:
        now = time.monotonic()
        low, high = self.options.hold_s
        snapshot = self.snapshot()
        load = Counter(servicer for state, servicer in snapshot.values() if state == HUMAN)
        for customer, (state, servicer) in snapshot.items():
            if customer in self.inflight:
                continue
            if state == HUMAN and customer not in self.serving:
                self.assigned += 1
                hold = now + self.random.uniform(low, high)
                self.serving[customer] = (servicer, hold, now + self.options.max_hold_s)
            elif state == ENDED and customer in self.serving:
                del self.serving[customer]
                self.ready_at[customer] = now + self.random.uniform(*self.options.think_s)
            if state == HUMAN and self._ends(customer, load, now, draining=not asking):
                path = f"accounts/{self.open_kfid}/sessions/{customer}/end"
                self.act(customer, path, {"servicer_userid": self.serving[customer][0]})
            elif (
                state == ENDED
                and asking
                and self.requests < self.options.transfers
                and self.ready_at[customer] <= now
            ):
                self.requests += 1
                body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": KEYWORD}}
                self.act(customer, f"customers/{customer}/messages", body)

    def _ends(self, customer: str, load: Counter[str], now: float, *, draining: bool) -> bool:
        servicer, hold, at_most = self.serving[customer]
        full = load[servicer] >= self.caps.get(servicer, 0)
        return (hold <= now and (full or draining)) or at_most <= now

    def idle(self) -> None:
        while self.inflight:
            time.sleep(0.01)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.http.close()


def run(database_url: str, options: Options, say: Callable[[str], None] = print) -> Result:
    """One run on `database_url` (migrated here if it is not yet); see the module's docstring."""
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="kefu-routing-"))
    caps = options.caps()
    with SimulatorServer(clock=Clock(), callback_timeout_s=5.0) as sim:
        corp = sim.control("POST", "corps", {"name": "并发压测"})
        open_kfid = sim.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "并发压测"})["open_kfid"]
        sim.control("POST", f"accounts/{open_kfid}/servicers", {"userids": list(caps)})
        customers = [
            sim.control("POST", f"corps/{corp['corpid']}/customers", {"nickname": f"客户{i}"})[
                "external_userid"
            ]
            for i in range(options.customers)
        ]
        kefu = Kefu(database_url, sim, corp, workdir)
        kefu.command("db", "upgrade")
        config_file(workdir / "kefu.yaml", corp, open_kfid, caps, options.default_cap)
        kefu.command("config", "apply", str(workdir / "kefu.yaml"))
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                connection_id, account_id = conn.execute(
                    text("SELECT connection_id, id FROM kf_accounts WHERE open_kfid = :k"), {"k": open_kfid}
                ).one()
            port = free_port()
            serve = kefu.start("serve", "serve", "--port", str(port))
            for n in range(options.workers):
                kefu.start(f"worker{n + 1}", "worker", "--concurrency", str(options.concurrency))
            wait_http(f"http://127.0.0.1:{port}/healthz", process=serve)
            setup_s = time.monotonic() - began
            callback = f"http://127.0.0.1:{port}/wecom/callback/{connection_id}"
            sim.control("PUT", f"corps/{corp['corpid']}/callback", {"url": callback, "verify": True})
            say(
                f"Kefu: serve + {options.workers} workers (concurrency {options.concurrency}) on "
                f"{make_url(database_url).render_as_string()}; {options.servicers} servicers, caps "
                f"{dict(sorted(Counter(caps.values()).items()))} (cap: how many), "
                f"{options.customers} customers"
            )
            result = drive(sim, open_kfid, customers, options, engine, account_id, say)
            result.problems += kefu.stop()
            result.figures["setup_s"] = round(setup_s, 1)
            result.figures["total_s"] = round(time.monotonic() - began, 1)
            result.figures["workdir"] = str(workdir)
        finally:
            kefu.stop()
            engine.dispose()
    return result


def drive(
    sim: SimulatorServer,
    open_kfid: str,
    customers: list[str],
    options: Options,
    engine: Any,
    account_id: int,
    say: Callable[[str], None],
) -> Result:
    driver = Driver(sim, open_kfid, customers, options)
    problems: list[str] = []
    started = time.monotonic()
    last_report = started
    try:
        progress = (started, 0)
        while driver.assigned < options.transfers:
            driver.step()
            now = time.monotonic()
            if driver.assigned != progress[1]:
                progress = (now, driver.assigned)
            if now - last_report >= 10:
                last_report = now
                say(
                    f"  {now - started:5.0f} s: {driver.requests} asked, {driver.assigned} assigned, "
                    f"{len(driver.serving)} being served"
                )
            if now - progress[0] > options.stall_s:
                waiting = {c: s for c, s in driver.snapshot().items() if s[0] not in (HUMAN, ENDED)}
                kefu = kefu_conversations(engine, account_id)
                problems.append(
                    f"stalled: no assignment for {options.stall_s:.0f} s with {len(waiting)} customers "
                    f"waiting, never assigned: "
                    + "; ".join(
                        f"{c} simulator {s}, Kefu {kefu.get(c)}" for c, s in list(waiting.items())[:5]
                    )
                )
                break
            if now - started > options.run_timeout_s:
                problems.append(f"timed out: {driver.assigned} of {options.transfers} assigned")
                break
            time.sleep(0.02)
        seconds = time.monotonic() - started
        driver.idle()
        say(f"  {seconds:.1f} s: {driver.assigned} assigned; waiting for Kefu to catch up")
        problems += settle(
            sim,
            open_kfid,
            engine,
            account_id,
            options.settle_timeout_s,
            "once no more requests were assigned",
        )
        # The servicers end every session still open; nobody asks again.
        while driver.serving:
            driver.step(asking=False)
            time.sleep(0.02)
        driver.idle()
        problems += settle(
            sim, open_kfid, engine, account_id, options.settle_timeout_s, "after every session ended"
        )
    finally:
        driver.close()
    problems += driver.errors
    result = Result(transfers=driver.assigned, requests=driver.requests, seconds=seconds, problems=problems)
    check(sim, open_kfid, engine, account_id, options.caps(), result)
    result.figures["end_conflicts"] = driver.end_conflicts
    return result


# --- the checks ---------------------------------------------------------------------------------


def report(result: Result) -> None:
    print(
        f"\n{result.requests} requests, {result.transfers} assignments in {result.seconds:.1f} s "
        f"({result.transfers / max(result.seconds, 1e-9):.1f} assignments/s)"
    )
    for key, value in result.figures.items():
        print(f"  {key}: {value}")
    if result.problems:
        print(f"\n{len(result.problems)} PROBLEMS:")
        for problem in result.problems:
            print(f"  - {problem}")
    else:
        print("\nno assignment over a cap, no double assignment; Kefu and the simulator agree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "KEFU_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server (a fresh database kefu_routing_bench is made on it)",
    )
    parser.add_argument("--use-database", action="store_true", help="use the URL's own database as it is")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so that Kefu's processes are stopped too: left running, they
    # would join the next run on its database of the same name.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = args.database_url if args.use_database else fresh_database(args.database_url)
    options = Options(
        transfers=args.transfers, customers=args.customers, workers=args.workers, concurrency=args.concurrency
    )
    result = run(url, options)
    report(result)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"routing_concurrency-{int(time.time())}.json").write_text(
        json.dumps(
            {"options": options.__dict__, **result.__dict__}, default=str, indent=2, ensure_ascii=False
        )
    )
    sys.exit(1 if result.problems else 0)


if __name__ == "__main__":
    main()
