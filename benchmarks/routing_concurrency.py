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
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu.clock import Clock
from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KEYWORD = "转人工"
HUMAN, POOL, ENDED = 3, 2, 4


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


@dataclass
class Result:
    transfers: int  # assignments Kefu made (the simulator's trans → 3)
    requests: int  # customers who wrote the keyword
    seconds: float  # from the first request until every request was assigned
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def config_file(path: Path, corp: dict[str, Any], open_kfid: str, caps: dict[str, int], default: int) -> None:
    """What an operator would apply: the connection, the account, its servicers and caps."""
    servicers = [
        {"userid": userid, **({"max_sessions": cap} if cap != default else {})}
        for userid, cap in caps.items()
    ]
    document = {
        "version": 1,
        # Routing is measured, not the AI: the lexical index spares each of the five processes
        # loading the embedding model (~1.5 s of CPU and ~140 MB each) before it answers.
        "ai": {"retrieval": "lexical"},
        "connections": [
            {
                "name": "bench",
                "corp_id": corp["corpid"],
                "secret": "${BENCH_SECRET}",
                "callback_token": "${BENCH_TOKEN}",
                "encoding_aes_key": "${BENCH_AES_KEY}",
                "bootstrap": "skip",
            }
        ],
        "accounts": [
            {
                "connection": "bench",
                "open_kfid": open_kfid,
                "name": "并发压测",
                "servicers": servicers,
                "reception": {"mode": "ai_first"},
                # Every day, all day: the run must not depend on the hour it starts.
                "hours": {
                    "weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                    "statutory_holidays": False,
                },
                "queue": {
                    "default_max_sessions": default,
                    "max_length": None,
                    "timeout_minutes": None,
                    "pool_notice": {"mode": "fixed", "text": "正在为您排队，您前面还有 {position} 位"},
                    "taken_notice": {"mode": "fixed", "text": "人工客服已接入"},
                },
                "routing": {"rules": [{"rule": "last"}, {"rule": "idle"}, {"rule": "round_robin"}]},
            }
        ],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))  # JSON is YAML


class Kefu:
    """`kefu serve` and the worker processes on one database, pointed at the simulator."""

    def __init__(self, database_url: str, sim: SimulatorServer, corp: dict[str, Any], workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.env = {
            **os.environ,
            "KEFU_ENV": "development",
            "KEFU_DATABASE_URL": database_url,
            "KEFU_SECRET_KEY": "routing-concurrency-" + secrets.token_hex(8),
            "KEFU_WECOM_API_BASE": sim.url,
            "KEFU_LOG_LEVEL": "WARNING",
            "KEFU_POLL_INTERVAL_S": "10",
            "BENCH_SECRET": corp["secret"],
            "BENCH_TOKEN": corp["callback_token"],
            "BENCH_AES_KEY": corp["encoding_aes_key"],
        }
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def command(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "kefu"), *args], env=self.env, cwd=self.workdir, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"kefu {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.workdir / f"{name}.log", "wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [str(BIN / "kefu"), *args],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((name, process))
        return process

    def stop(self) -> list[str]:
        """SIGTERM every process; returns a problem for each that did not exit cleanly."""
        problems = []
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes:
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            if code not in (0, -signal.SIGTERM):
                problems.append(f"{name} exited with {code} (see {self.workdir / (name + '.log')})")
        return problems


def fresh_database(url: str, name: str = "kefu_routing_bench") -> str:
    """A new, empty database `name` on the server of `url`."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


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
            wait_http(f"http://127.0.0.1:{port}/healthz", serve)
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
        problems += settle(sim, open_kfid, engine, account_id, options, "once no more requests were assigned")
        # The servicers end every session still open; nobody asks again.
        while driver.serving:
            driver.step(asking=False)
            time.sleep(0.02)
        driver.idle()
        problems += settle(sim, open_kfid, engine, account_id, options, "after every session ended")
    finally:
        driver.close()
    problems += driver.errors
    result = Result(transfers=driver.assigned, requests=driver.requests, seconds=seconds, problems=problems)
    check(sim, open_kfid, engine, account_id, options.caps(), result)
    result.figures["end_conflicts"] = driver.end_conflicts
    return result


# --- the checks ---------------------------------------------------------------------------------


def sim_sessions(sim: SimulatorServer, open_kfid: str) -> list[dict[str, Any]]:
    return list(sim.control("GET", f"accounts/{open_kfid}/sessions")["sessions"])


def kefu_conversations(engine: Any, account_id: int) -> dict[str, tuple[int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_userid, wecom_state, servicer_userid FROM conversations"
                " WHERE account_id = :a"
            ),
            {"a": account_id},
        ).all()
    return {c: (s, u) for c, s, u in rows}


def disagreements(sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int) -> list[str]:
    """Conversations whose state or servicer in Kefu differ from the simulator's session."""
    kefu = kefu_conversations(engine, account_id)
    found = []
    for session in sim_sessions(sim, open_kfid):
        customer = session["external_userid"]
        theirs = (session["state"], session["servicer_userid"] or None)
        ours = kefu.get(customer, (ENDED, None))
        if ours != theirs:
            found.append(f"{customer}: Kefu {ours}, simulator {theirs}")
    return found


def open_jobs(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing') AND run_at <= now()")
            ).scalar_one()
        )


def settle(
    sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int, options: Options, when: str
) -> list[str]:
    """Wait until Kefu has no job due and its records agree with the simulator; else report."""
    deadline = time.monotonic() + options.settle_timeout_s
    sim.flush_callbacks(timeout_s=options.settle_timeout_s)
    while True:
        differ = disagreements(sim, open_kfid, engine, account_id)
        if not differ and open_jobs(engine) == 0:
            return []
        if time.monotonic() > deadline:
            return [f"{when}, Kefu and the simulator disagree on {len(differ)} customers: {differ[:5]}"]
        time.sleep(0.2)


def replay(
    sessions: list[dict[str, Any]], caps: dict[str, int], problems: list[str], figures: dict[str, Any]
) -> int:
    """The simulator's own log, replayed in its world-wide order (`seq`): the sessions in 3 of
    each servicer after every move. Reports an assignment by Kefu (`by` api) that left its
    servicer over their cap, and a session Kefu assigned more than once. Returns how many
    assignments Kefu made."""
    moves = sorted(
        (entry["seq"], session["external_userid"], entry)
        for session in sessions
        for entry in session["history"]
    )
    serving: dict[str, str] = {}  # customer → servicer, while in 3
    load: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    assigned_in_session: Counter[tuple[str, int]] = Counter()
    session_of: Counter[str] = Counter()
    over, filling = [], 0
    for _, customer, entry in moves:
        if entry["from_state"] == ENDED and entry["to_state"] != ENDED:
            session_of[customer] += 1  # a new session
        if customer in serving:
            load[serving.pop(customer)] -= 1
        if entry["to_state"] != HUMAN:
            continue
        servicer = entry["servicer_userid"]
        serving[customer] = servicer
        load[servicer] += 1
        peak[servicer] = max(peak[servicer], load[servicer])
        if entry["by"] != "api":
            continue
        assigned_in_session[(customer, session_of[customer])] += 1
        cap = caps.get(servicer, 0)
        filling += load[servicer] == cap
        if load[servicer] > cap:
            over.append(f"{servicer} had {load[servicer]} (cap {cap}) at move {entry['seq']}")
    if over:
        problems.append(f"the simulator saw {len(over)} assignments over a cap: {over[:5]}")
    twice = [key for key, n in assigned_in_session.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} sessions were assigned more than once by Kefu: {twice[:5]}")
    figures["simulator_assignments"] = sum(assigned_in_session.values())
    figures["assignments_filling_a_cap"] = filling
    figures["peak_sessions"] = {s: f"{peak[s]}/{caps[s]}" for s in sorted(caps)}
    figures["servicers_at_cap_at_some_point"] = sum(1 for s in caps if peak[s] == caps[s])
    return sum(assigned_in_session.values())


def check(
    sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int, caps: dict[str, int], result: Result
) -> None:
    problems, figures = result.problems, result.figures
    sessions = sim_sessions(sim, open_kfid)

    sim_assignments = replay(sessions, caps, problems, figures)
    if sim_assignments != result.transfers:
        problems.append(
            f"the driver saw {result.transfers} assignments, the simulator's log {sim_assignments}"
        )

    # Kefu's records.
    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "SELECT conversation_id, session_no, outcome, servicer_userid, steps, over_cap"
                " FROM routing_decisions WHERE account_id = :a ORDER BY id"
            ),
            {"a": account_id},
        ).all()
        transfers = conn.execute(
            text(
                "SELECT a.conversation_id, a.payload, a.status, a.errcode FROM conversation_actions a"
                " JOIN conversations c ON c.id = a.conversation_id"
                " WHERE c.account_id = :a AND a.kind = 'transfer' ORDER BY a.id"
            ),
            {"a": account_id},
        ).all()
        failed_jobs = conn.execute(text("SELECT task, last_error FROM jobs WHERE status = 'failed'")).all()
    outcomes = Counter(outcome for _, _, outcome, _, _, _ in decisions)
    figures["routing_decisions"] = dict(outcomes)
    assigns_per_session: Counter[tuple[int, int]] = Counter()
    kefu_over = []
    for conversation_id, session_no, outcome, servicer, steps, over_cap in decisions:
        if over_cap:
            kefu_over.append(f"over_cap flag on a decision for {servicer}")
        if outcome != "assign":
            continue
        assigns_per_session[(conversation_id, session_no)] += 1
        steps = json.loads(steps) if isinstance(steps, str) else steps
        counted = [
            s["sessions"] for s in steps if s.get("verdict") == "chosen" and s.get("sessions") is not None
        ]
        if counted and counted[-1] >= caps.get(servicer, 0):
            kefu_over.append(f"assigned {servicer} with {counted[-1]} sessions (cap {caps.get(servicer)})")
    if kefu_over:
        problems.append(f"Kefu's decisions went over a cap {len(kefu_over)} times: {kefu_over[:5]}")
    doubled = [key for key, n in assigns_per_session.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} sessions have more than one assign decision: {doubled[:5]}")
    to_human = [
        (status, errcode)
        for _, payload, status, errcode in transfers
        if (json.loads(payload) if isinstance(payload, str) else payload)["action"]["target_state"] == HUMAN
    ]
    figures["kefu_transfers_to_3"] = dict(Counter(status for status, _ in to_human))
    not_done = Counter((status, errcode) for status, errcode in to_human if status != "done")
    if not_done:
        problems.append(f"Kefu's trans → 3 that did not succeed: {dict(not_done)}")
    done = sum(1 for status, _ in to_human if status == "done")
    if done != sim_assignments:
        problems.append(f"Kefu recorded {done} transfers to 3 done, the simulator {sim_assignments}")
    if sum(assigns_per_session.values()) != sim_assignments:
        problems.append(
            f"Kefu made {sum(assigns_per_session.values())} assign decisions, the simulator saw "
            f"{sim_assignments} assignments"
        )
    if failed_jobs:
        problems.append(f"{len(failed_jobs)} jobs failed: {failed_jobs[:3]}")


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
