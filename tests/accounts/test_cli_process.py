"""`kefu connections add` as a real process: secrets given in the environment never appear on
its command line, which `ps` shows to every user of the machine."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kefu.settings import Settings
from kefu.simulator import SimulatorServer
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, Corp, cli_env

pytestmark = [pytest.mark.db, pytest.mark.e2e]


def command_lines() -> dict[int, str]:
    """Every process's command line, as `ps` reads it from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue  # ended meanwhile
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_secrets_from_the_environment_are_not_on_the_command_line(
    simulator: SimulatorServer, settings: Settings, corp: Corp
) -> None:
    # WeCom answers slowly, so the command is still running while we look at it.
    simulator.control("POST", "faults", {"endpoint": "gettoken", "latency_ms": 1500, "count": 1})
    env = {
        **os.environ,
        **cli_env(settings),
        "KEFU_CORP_SECRET": corp.secret,
        "KEFU_CALLBACK_TOKEN": CB_TOKEN,
        "KEFU_AES_KEY": AES_KEY,
    }
    argv = [
        sys.executable,
        "-m",
        "kefu.cli",
        "connections",
        "add",
        "--name",
        "qinghe",
        "--corp-id",
        corp.corpid,
    ]
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: list[str] = []
    ps = ""
    while process.poll() is None:
        seen.append(command_lines().get(process.pid, ""))
        if not ps and "connections add" in seen[-1]:  # what any user's `ps` shows meanwhile
            ps = subprocess.run(
                ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
            ).stdout
        time.sleep(0.05)  # real time: the command runs in another process
    out, err = process.communicate(timeout=30)

    assert process.returncode == 0, out + err
    assert "Check: OK" in out  # the secrets reached WeCom
    assert len([line for line in seen if "connections add" in line]) >= 10  # seen while it ran
    assert f"connections add --name qinghe --corp-id {corp.corpid}" in ps
    for secret in (corp.secret, CB_TOKEN, AES_KEY):
        assert not any(secret in line for line in seen), "a secret was on the command line"
        assert secret not in " ".join(argv) and secret not in ps and secret not in out + err


def _read_until(fd: int, text: str, seen: bytearray, timeout_s: float = 30.0) -> None:
    """Read the terminal's output into `seen` until `text` appears (or fail after timeout_s)."""
    deadline = time.monotonic() + timeout_s  # real time: the command runs in another process
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never shown: {seen.decode(errors='replace')!r}"
        if select.select([fd], [], [], min(left, 0.5))[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the command ended and closed the terminal
                break


def test_add_asks_on_a_terminal_for_missing_secrets_without_echo(
    simulator: SimulatorServer, settings: Settings, corp: Corp
) -> None:
    """On a terminal `add` asks for each value neither given nor in the environment, echoing
    nothing (without one it names what is missing: tests/test_cli.py)."""
    main, terminal = pty.openpty()
    argv = ["connections", "add", "--name", "qinghe", "--corp-id", corp.corpid]
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", *argv],
        env={**os.environ, **cli_env(settings)},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        for prompt, answer in (("Secret: ", corp.secret), ("Token: ", CB_TOKEN), ("Aes key: ", AES_KEY)):
            _read_until(main, prompt, seen)
            os.write(main, f"{answer}\n".encode())
        _read_until(main, "Check: OK", seen)
        assert process.wait(timeout=30) == 0, seen.decode(errors="replace")
    finally:
        process.kill()
        os.close(main)
    for secret in (corp.secret, CB_TOKEN, AES_KEY):
        assert secret.encode() not in seen, "a secret was echoed"
