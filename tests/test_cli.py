"""The `kefu` command and the app's health endpoint, as a newcomer first meets them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert

import kefu
from kefu.accounts.models import GlobalSetting
from kefu.app import create_app
from kefu.db.migrate import upgrade
from kefu.runtime import Runtime

# The kefu under test, for the subprocesses too (in a worktree the venv's install is another tree).
SOURCES = str(Path(kefu.__file__).resolve().parents[1])

COMMANDS = [
    "serve",
    "worker",
    "demo",
    "simulator",
    "db",
    "connections",
    "accounts",
    "kb",
    "tokens",
    "config",
    "jobs",
    "conversations",
    "report",
]


def run_kefu(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`kefu ARGS` in a subprocess running the kefu under test, with only `env` (and no PATH),
    and no terminal: stdin is empty, as under cron or CI."""
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "PYTHONPATH": SOURCES, **env},
        cwd=cwd,
    )


def _key_env(tmp_path: Path) -> dict[str, str]:
    return {
        "KEFU_SECRET_KEY": "a-long-random-value-for-this-test-only",
        "KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'kefu.db'}",
    }


def test_help_lists_every_command() -> None:
    result = run_kefu(["--help"], {"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert f" {command} " in result.stdout, command


@pytest.mark.parametrize("key", ["change-me", "CHANGE-ME-a-long-random-value"])  # the deploy sample's
def test_serve_refuses_a_default_secret_outside_development(tmp_path, key: str) -> None:
    env = {**_key_env(tmp_path), "KEFU_ENV": "production", "KEFU_SECRET_KEY": key}
    result = run_kefu(["serve"], env, tmp_path)
    assert result.returncode == 2
    assert "KEFU_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("KEFU_SYNC_PAGE_LIMIT", "abc", "KEFU_SYNC_PAGE_LIMIT: Input should be a valid integer"),
        # These two were a ValueError traceback, and a callback URL without its scheme.
        ("KEFU_LOG_LEVEL", "verbose", "KEFU_LOG_LEVEL: one of DEBUG, INFO, WARNING, ERROR"),
        ("KEFU_PUBLIC_URL", "kefu.example.com", "KEFU_PUBLIC_URL: an http:// or https:// address"),
    ],
)
def test_a_bad_setting_is_one_clear_line(tmp_path, name: str, value: str, expected: str) -> None:
    result = run_kefu(["serve"], {"KEFU_ENV": "development", name: value}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: invalid KEFU_* setting: {expected}"), result.stderr


@pytest.mark.parametrize(
    ("command", "url", "expected"),
    [
        (
            "serve",
            "sqlite:///{tmp}/a-file/kefu.db",
            "cannot open the database sqlite:///{tmp}/a-file/kefu.db: ",
        ),
        ("db upgrade", "sqlite:///{tmp}/a-file/kefu.db", "Not a directory"),
        # The whole path, "@" and all (the line was cut at the last "@": "cannot open the
        # database b/kefu.db").
        (
            "serve",
            "sqlite:///{tmp}/a-file/team@b/kefu.db",
            "cannot open the database sqlite:///{tmp}/a-file/team@b/kefu.db: ",
        ),
        (
            "serve",
            "postgresql+psycopg://kefu:pw@127.0.0.1:1/kefu",
            "database error (postgresql+psycopg://kefu:***@127.0.0.1:1/kefu): ",
        ),
        ("db upgrade", "postgresql+psycopg://kefu:pw@127.0.0.1:1/kefu", "Connection refused"),
        ("serve", "mysql://kefu@db/kefu", "KEFU_DATABASE_URL: not a SQLite or PostgreSQL URL"),
        ("db upgrade", "kefu.db", "KEFU_DATABASE_URL: not a SQLite or PostgreSQL URL"),
    ],
)
def test_a_database_kefu_cannot_open_is_one_clear_line(
    tmp_path: Path, command: str, url: str, expected: str
) -> None:
    """A wrong KEFU_DATABASE_URL, an unreachable server or a folder that cannot hold the SQLite
    file: `error: …` naming the database (never its password), where these were tracebacks."""
    (tmp_path / "a-file").touch()
    env = {**_key_env(tmp_path), "KEFU_DATABASE_URL": url.format(tmp=tmp_path)}
    result = run_kefu(command.split(), env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert expected.format(tmp=tmp_path) in result.stderr and "Traceback" not in result.stderr
    assert ":pw@" not in result.stderr


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, ["--secret", "--token", "--aes-key"]),
        ({"KEFU_CORP_SECRET": "s3cret", "--token": "cbToken123"}, ["--aes-key"]),
    ],
)
def test_connections_add_without_a_terminal_names_each_missing_secret(
    tmp_path: Path, given: dict[str, str], missing: list[str]
) -> None:
    """No terminal to ask on (cron, CI, a script): click's hidden prompt met end-of-input and
    the command ended in a bare "Aborted."; now each missing value is one line saying how to give it."""
    options = [word for flag, value in given.items() if flag.startswith("--") for word in (flag, value)]
    env = {**_key_env(tmp_path), **{k: v for k, v in given.items() if k.startswith("KEFU_")}}
    result = run_kefu(["connections", "add", "--name", "qh", "--corp-id", "ww1", *options], env, tmp_path)
    assert result.returncode == 2, result.stderr
    variable = {"--secret": "KEFU_CORP_SECRET", "--token": "KEFU_CALLBACK_TOKEN", "--aes-key": "KEFU_AES_KEY"}
    assert result.stderr.splitlines() == [
        f"error: {flag} is missing and there is no terminal to ask for it: give {flag} VALUE, "
        f"set {variable[flag]}, or pass {flag} - to read it from stdin"
        for flag in missing
    ]
    assert not (tmp_path / "kefu.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["serve", "--port"], "error: cannot listen on 127.0.0.1:{port}: Address already in use"),
        (
            ["worker", "--metrics-port"],
            "error: --metrics-port: cannot listen on 127.0.0.1:{port}: Address already in use",
        ),
    ],
)
def test_a_port_in_use_is_one_clear_line(tmp_path: Path, option: list[str], expected: str) -> None:
    """Said at once, before the schema and the AI load: `kefu serve` logged "listening" and then
    uvicorn's error (exit 3); `kefu worker --metrics-port` printed a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_kefu([*option, str(port)], _key_env(tmp_path), tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == expected.format(port=port)
    assert "listening" not in result.stdout


@pytest.mark.parametrize("option", [["serve", "--port"], ["worker", "--metrics-port"], ["demo", "--port"]])
def test_a_port_out_of_range_is_refused(tmp_path: Path, option: list[str]) -> None:
    """`kefu serve --port 99999` served on port 34463 (99999 - 65536), saying nothing."""
    result = run_kefu([*option, "99999"], {"KEFU_ENV": "development", "COLUMNS": "200"}, tmp_path)
    assert result.returncode == 2
    assert f"Invalid value for '{option[1]}': Input should be less than or equal to 65535" in result.stderr


def test_kefu_worker_logs_at_the_configured_level(tmp_path: Path) -> None:
    """KEFU_LOG_LEVEL's default is INFO: `kefu worker` showed only warnings (the one-shot
    commands' default), so none of its jobs' lines (decisions, deliveries) were logged."""
    env = {**_key_env(tmp_path), "PATH": "", "PYTHONPATH": SOURCES}
    worker = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    deadline = threading.Timer(60, worker.kill)  # never waits forever for a line not logged
    deadline.start()
    try:
        assert worker.stdout is not None
        lines = []
        for line in worker.stdout:  # ends when the worker exits
            lines.append(line)
            if "jobs.worker_started" in line:
                worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=60) == 0, lines
    finally:
        deadline.cancel()
        worker.kill()
    assert any("jobs.worker_started" in line for line in lines), lines
    assert "jobs.worker_stopped" in lines[-1]


@pytest.mark.db
async def test_healthz(rt: Runtime) -> None:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stale_callbacks_refused": 0}


@pytest.mark.parametrize(("stored", "model_loaded"), [(None, True), ("lexical", False), ("auto", True)])
def test_a_serving_process_loads_the_ai_first_and_freezes_what_it_loaded(
    tmp_path: Path, stored: str | None, model_loaded: bool
) -> None:
    """settle_process (serve, worker, demo): the pinyin dictionary (and the embedding model,
    unless the stored ai.retrieval is lexical) load before the first question, and the loaded
    objects are out of the garbage collector's full collections (their pauses were the callback
    endpoint's p99). No database yet, or no ai: section, counts as "auto"."""
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    if stored is not None:
        upgrade(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                insert(GlobalSetting).values(
                    key="ai", data={"retrieval": stored}, version=1, updated_at=datetime.now(UTC)
                )
            )
        engine.dispose()
    script = (
        "import gc; from kefu.ai import chars, embeddings; from kefu.app import settle_process\n"
        "assert chars._pinyin.cache_info().currsize == 0 and not embeddings._tried\n"
        "assert gc.get_freeze_count() == 0\n"
        f"settle_process({url!r})\n"
        "print(chars._pinyin.cache_info().currsize > 0, embeddings._tried, gc.get_freeze_count())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    pinyin, model, frozen = result.stdout.split()
    assert pinyin == "True" and int(frozen) > 50_000  # the modules, pypinyin, SQLAlchemy, pydantic…
    assert model == str(model_loaded)


@pytest.mark.parametrize(
    ("level", "alembic_shown", "kefu_shown"),
    [("WARNING", False, False), ("INFO", False, True), ("DEBUG", True, True)],
)
def test_alembic_speaks_at_debug_only_and_kefu_says_what_it_upgraded(
    tmp_path, level: str, alembic_shown: bool, kefu_shown: bool
) -> None:
    """At the normal level (INFO) a start says in one line that the schema was upgraded, not
    Alembic's set-up lines; KEFU_LOG_LEVEL=WARNING quiets both (kefu.logs configures INFO on
    import, and the commands' modules are imported before they set the level they were given)."""
    script = (
        "import kefu.cli, kefu.demo\n"
        f"from kefu.logs import configure_logging; configure_logging({level!r})\n"
        f"from kefu.db import migrate; migrate.upgrade('sqlite:///{tmp_path / 'k.db'}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    output = result.stdout + result.stderr
    for alembic_line in ("Running upgrade", "setup plugin", "Context impl"):
        assert (alembic_line in output) == alembic_shown, output
    assert ("db.upgraded" in output) == kefu_shown, output
