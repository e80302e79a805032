"""Kefu as real processes, for the benchmarks that drive it from outside (chaos.py, e2e.py): a
fresh database, the `kefu` command, `kefu serve` / `kefu worker` processes on loopback, and what
they cost (CPU seconds and resident memory, read from /proc)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text

BIN = Path(sys.executable).parent
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class KefuProcess:
    """One `kefu serve` or `kefu worker` (or any command), stopped, or killed with SIGKILL and
    started again at will."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def fresh_database(kind: str, pg_url: str, workdir: Path) -> str:
    """A new empty database: a SQLite file in `workdir`, or `pg_url`'s database dropped and made
    again on its server."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'kefu.db'}"
    url = make_url(pg_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def kefu(env: dict[str, str], *args: str) -> str:
    """Run one `kefu` command to its end; its output, or RuntimeError with it."""
    done = subprocess.run([str(BIN / "kefu"), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"kefu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_http(url: str, timeout_s: float = 60, *, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until `url` answers below 500; a `process` that exits meanwhile (a port taken, a bad
    setting) fails at once instead of after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def point_callbacks(sim: Any, corpid: str, port: int, connection_id: int) -> None:
    """Have the simulator call back the `kefu serve` on `port` for this corp (signatures verified)."""
    callback = f"http://127.0.0.1:{port}/wecom/callback/{connection_id}"
    sim.control("PUT", f"corps/{corpid}/callback", {"url": callback, "verify": True})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    """Resident memory of a live process, in MiB."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB / 1024
