"""Off loopback the simulator's control API, pages and views need the control token; WeCom's
own API keeps its own auth. `kefu simulator` refuses another address without --allow-remote."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kefu.clock import Clock
from kefu.simulator import SimulatorServer

TOKEN = "control-token-123"


def test_with_a_token_every_sim_path_but_static_files_needs_it() -> None:
    with SimulatorServer(clock=Clock(), control_token=TOKEN) as sim:
        corp = sim.control("POST", "corps", {"name": "青禾家电"})  # control() sends the token
        for path in ("/_sim/api/corps", "/_sim/ui/directory", "/_sim/", "/_sim/customer"):
            refused = httpx.get(f"{sim.url}{path}")
            assert refused.status_code == 401, path
        assert "control token" in httpx.get(f"{sim.url}/_sim/api/corps").json()["detail"]
        assert (
            httpx.get(f"{sim.url}/_sim/api/corps", headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        assert httpx.get(f"{sim.url}/_sim/static/common.js").status_code == 200

        with httpx.Client() as browser:  # a page opened once with ?token= leaves a cookie
            page = browser.get(f"{sim.url}/_sim/servicer?token={TOKEN}")
            assert page.status_code == 200
            assert (
                "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
            )
            assert browser.get(f"{sim.url}/_sim/ui/directory").status_code == 200

        gettoken = httpx.get(
            f"{sim.url}/cgi-bin/gettoken", params={"corpid": corp["corpid"], "corpsecret": corp["secret"]}
        )
        assert gettoken.json()["errcode"] == 0  # WeCom's API: its own auth, as Kefu uses it


def test_without_a_token_the_control_api_is_open_as_before(simulator: SimulatorServer) -> None:
    assert httpx.get(f"{simulator.url}/_sim/api/corps").status_code == 200


def test_the_command_refuses_another_address_without_allow_remote(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "simulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "loopback only" in result.stderr and "--allow-remote" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_with_allow_remote_prints_the_token_its_control_api_needs(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kefu.cli",
            "simulator",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--allow-remote",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline() for _ in range(3)]
        assert printed[1].startswith("warning: listening on 0.0.0.0"), printed
        token = printed[2].rsplit(" ", 1)[1].strip()
        url = f"http://127.0.0.1:{port}/_sim/api/corps"
        deadline = time.monotonic() + 30
        while not _answers(url):
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.1)  # real time: it starts in another process
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return True
