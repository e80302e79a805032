"""The world of benchmarks/routing_concurrency.py on Kefu's side: the configuration an operator
would apply, and `kefu serve` with its worker processes on one PostgreSQL database."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

import kefu_procs
from kefu_procs import BIN
from sqlalchemy.engine import make_url

from kefu.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]


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
    return kefu_procs.fresh_database(
        "postgresql", make_url(url).set(database=name).render_as_string(False), ROOT
    )
