"""The `kefu` command and the app's health endpoint, as a newcomer first meets them."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from kefu.app import create_app
from kefu.runtime import Runtime

COMMANDS = ["serve", "worker", "demo", "simulator", "db", "connections", "tokens", "config", "jobs"]


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert f" {command} " in result.stdout, command


def test_serve_refuses_a_default_secret_outside_development(tmp_path) -> None:
    env = {
        "KEFU_ENV": "production",
        "KEFU_SECRET_KEY": "change-me",
        "KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "KEFU_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_setting_is_one_clear_line(tmp_path) -> None:
    env = {"KEFU_ENV": "development", "KEFU_SYNC_PAGE_LIMIT": "abc", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "sync_page_limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.db
async def test_healthz(rt: Runtime) -> None:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
