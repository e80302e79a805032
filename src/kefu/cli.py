"""The `kefu` command: every feature's commands, assembled (the entry layer)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer

import kefu.registry
from kefu import __version__
from kefu.accounts.cli import connections_app
from kefu.accounts.kb_cli import kb_app
from kefu.accounts.kf_cli import accounts_app
from kefu.api.cli import tokens_app
from kefu.api.users_cli import users_app
from kefu.cli_runtime import fail
from kefu.config.cli import config_app
from kefu.crm.cli import crm_app
from kefu.demo import demo_command
from kefu.jobs.cli import jobs_app
from kefu.jobs.worker import Worker
from kefu.logs import configure_logging, get_logger
from kefu.reception.cli import conversations_app
from kefu.reports.cli import report_command
from kefu.runtime import Runtime
from kefu.serving import LIMIT_CONCURRENCY, TIMEOUT_KEEP_ALIVE
from kefu.settings import LOG_LEVELS, get_settings
from kefu.simulator.cli import simulator_command

log = get_logger("kefu.jobs")
app = typer.Typer(help="Kefu: a self-hosted hub for WeCom 微信客服.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(connections_app, name="connections")
app.add_typer(accounts_app, name="accounts")
app.add_typer(kb_app, name="kb")
app.add_typer(tokens_app, name="tokens")
app.add_typer(users_app, name="users")
app.add_typer(config_app, name="config")
app.add_typer(jobs_app, name="jobs")
app.add_typer(conversations_app, name="conversations")
app.add_typer(crm_app, name="crm")
app.command("report")(report_command)
app.command("demo")(demo_command)
app.command("simulator")(simulator_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kefu {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    _version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print Kefu's version and exit."
    ),
) -> None:
    """Kefu: a self-hosted hub for WeCom 微信客服."""


def _log_level(value: str | None) -> str | None:
    if value is not None and value.upper() not in LOG_LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LOG_LEVELS)}")
    return value.upper() if value else None


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on. Keep loopback and put a reverse proxy in front."
    ),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    log_level: str | None = typer.Option(
        None, callback=_log_level, help="DEBUG, INFO, WARNING or ERROR (default: KEFU_LOG_LEVEL, INFO)."
    ),
    limit_concurrency: int = typer.Option(
        LIMIT_CONCURRENCY, help="Connections and requests at once; past it new requests get 503 at once."
    ),
    timeout_keep_alive: int = typer.Option(
        TIMEOUT_KEEP_ALIVE, help="Seconds an idle keep-alive connection stays open."
    ),
    http: str = typer.Option(
        "auto",
        help="HTTP parser: auto (httptools on loopback behind a proxy, h11 elsewhere: it caps "
        "request headers at 16 KiB), h11 or httptools.",
    ),
) -> None:
    """Run the web server (WeCom callbacks, REST API); on SQLite also the job worker."""
    import uvicorn

    from kefu.app import create_app, settle_process
    from kefu.cli_runtime import fail, load_settings, prepare_schema
    from kefu.serving import cannot_listen, uvicorn_limits
    from kefu.threaded_server import is_loopback

    if http not in ("auto", "h11", "httptools"):
        fail("--http must be auto, h11 or httptools")
    settings = load_settings()
    if log_level:
        settings = settings.model_copy(update={"log_level": log_level})
    configure_logging(settings.log_level, settings.log_json)
    if not is_loopback(host):
        typer.echo(
            f"warning: serving on {host} with nothing in front: uvicorn has no timeout for slow "
            "request bodies. Serve on 127.0.0.1 behind a reverse proxy (docs/nginx.conf.example).",
            err=True,
        )
    problem = cannot_listen(host, port)
    if problem:
        fail(f"cannot listen on {host}:{port}: {problem}")
    prepare_schema(settings)
    app = create_app(settings=settings)
    settle_process(settings.database_url)
    get_logger(__name__).info("serve.listening", url=f"http://{host}:{port}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info" if settings.log_level == "DEBUG" else "warning",
        **uvicorn_limits(
            host=host,
            http=http,  # type: ignore[arg-type]
            limit_concurrency=limit_concurrency,
            timeout_keep_alive=timeout_keep_alive,
        ),
    )


@app.command()
def worker(
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Jobs run at the same time (default: KEFU_WORKER_CONCURRENCY, 16)."
    ),
    metrics_port: int = typer.Option(
        0,
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve this worker's counters for Prometheus on this port (0: off).",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="Address of --metrics-port (no token: keep it private)."
    ),
) -> None:
    """Run background jobs until interrupted (SIGINT/SIGTERM)."""
    from kefu import metrics
    from kefu.app import settle_process
    from kefu.cli_runtime import load_settings, run_with_runtime

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    if metrics_port:
        try:
            metrics.serve_counters(metrics_host, metrics_port)
        except OSError as exc:
            fail(f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}: {exc.strerror or exc}")
        log.info("metrics.serving", host=metrics_host, port=metrics_port)
    log.info("jobs.tasks_loaded", tasks=kefu.registry.task_names())
    settle_process(settings.database_url)
    # Its logs at KEFU_LOG_LEVEL as configured above (a one-shot command's WARNING would hide
    # every job's lines: on PostgreSQL the decisions and deliveries are logged here).
    run_with_runtime(
        lambda rt: _run_worker(rt, concurrency or settings.worker_concurrency), configure_logs=False
    )


async def _run_worker(rt: Runtime, concurrency: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Worker(rt, concurrency=concurrency).run(stop)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from kefu.cli_runtime import database_errors, read_settings
    from kefu.db import migrate

    settings = read_settings()
    with database_errors(settings):
        migrate.upgrade(settings.database_url)
    typer.echo("database is up to date")


@db_app.command("backup")
def db_backup(
    target: Path = typer.Argument(..., help="The file to write (must not exist yet)."),
) -> None:
    """SQLite: a consistent copy of the live database (online backup; Kefu may keep running).
    PostgreSQL: use pg_dump (docs/operations.md)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    url = make_url(get_settings().database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        fail("kefu db backup copies a SQLite database file; for PostgreSQL use pg_dump (docs/operations.md)")
    if not Path(url.database).is_file():
        fail(f"there is no database at {url.database} (KEFU_DATABASE_URL): nothing to back up")
    try:
        # Owner-only from the start: it holds what the database holds.
        target.touch(mode=0o600, exist_ok=False)
    except FileExistsError:
        fail(f"{target} exists: back up to a new file")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    try:
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    except sqlite3.Error as exc:
        target.unlink()  # a half copy must not pass for a backup, nor block the next try
        fail(f"cannot back up {url.database}: {exc}")
    typer.echo(f"backed up {url.database} to {target}")


@db_app.command("revision")
def db_revision(message: str = typer.Argument(..., help="What the migration changes.")) -> None:
    """For developers: write a migration for what the models changed (Alembic autogenerate)."""
    typer.echo(kefu.registry.new_revision(message))


if __name__ == "__main__":
    app()
