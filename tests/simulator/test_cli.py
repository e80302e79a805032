"""`kefu simulator` (kefu.simulator.cli.simulator_command) runs a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

RUN = "import typer; from kefu.simulator.cli import simulator_command; typer.run(simulator_command)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_simulator_command_serves_the_api() -> None:
    """The command serves /cgi-bin and /_sim/api on the given loopback port until stopped."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, "--port", str(port), "--callback-timeout", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/_sim/api/corps", json={})
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)  # real wait for the child process to listen
        corp = answer.json()
        token = httpx.get(
            f"http://127.0.0.1:{port}/cgi-bin/gettoken",
            params={"corpid": corp["corpid"], "corpsecret": corp["secret"]},
        ).json()
        assert token["errcode"] == 0 and token["expires_in"] == 7200
        settings = httpx.get(f"http://127.0.0.1:{port}/_sim/api/settings").json()
        assert settings["callback_timeout_s"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
