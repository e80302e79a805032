"""The `kefu` command: every feature's commands, assembled (the entry layer)."""

from __future__ import annotations

import asyncio
import signal

import typer

import kefu.registry
from kefu.accounts.cli import connections_app
from kefu.accounts.kb_cli import kb_app
from kefu.accounts.kf_cli import accounts_app
from kefu.api.cli import tokens_app
from kefu.config.cli import config_app
from kefu.demo import demo_command
from kefu.jobs.cli import jobs_app
from kefu.jobs.worker import Worker
from kefu.logs import configure_logging, get_logger
from kefu.runtime import Runtime
from kefu.settings import get_settings
from kefu.simulator.cli import simulator_command

log = get_logger("kefu.jobs")
app = typer.Typer(help="Kefu: a self-hosted hub for WeCom 微信客服.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(connections_app, name="connections")
app.add_typer(accounts_app, name="accounts")
app.add_typer(kb_app, name="kb")
app.add_typer(tokens_app, name="tokens")
app.add_typer(config_app, name="config")
app.add_typer(jobs_app, name="jobs")
app.command("demo")(demo_command)
app.command("simulator")(simulator_command)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the web server (callbacks, API, console); on SQLite also the job worker."""
    import uvicorn

    from kefu.app import create_app, settle_process
    from kefu.cli_runtime import load_settings, prepare_schema

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    prepare_schema(settings)
    app = create_app(settings=settings)
    settle_process()
    uvicorn.run(app, host=host, port=port, log_level="warning")


@app.command()
def worker(
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Jobs run at the same time."),
) -> None:
    """Run background jobs until interrupted (SIGINT/SIGTERM)."""
    from kefu.app import settle_process
    from kefu.cli_runtime import load_settings, run_with_runtime

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    log.info("jobs.tasks_loaded", tasks=kefu.registry.task_names())
    settle_process()
    run_with_runtime(lambda rt: _run_worker(rt, concurrency))


async def _run_worker(rt: Runtime, concurrency: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Worker(rt, concurrency=concurrency).run(stop)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from kefu.db import migrate

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    typer.echo("database is up to date")


@db_app.command("revision")
def db_revision(message: str = typer.Argument(..., help="What the migration changes.")) -> None:
    """For developers: write a migration for what the models changed (Alembic autogenerate)."""
    typer.echo(kefu.registry.new_revision(message))


if __name__ == "__main__":
    app()
