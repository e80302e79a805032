"""The `kefu` command."""

from __future__ import annotations

import typer

from kefu.accounts.cli import connections_app
from kefu.accounts.kf_cli import accounts_app
from kefu.ai.cli import kb_app
from kefu.api.cli import tokens_app
from kefu.config.cli import config_app
from kefu.demo import demo_command
from kefu.jobs.cli import jobs_app, worker_command
from kefu.settings import ConfigurationError, get_settings
from kefu.simulator.cli import simulator_command

app = typer.Typer(help="Kefu: a self-hosted hub for WeCom 微信客服.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(connections_app, name="connections")
app.add_typer(accounts_app, name="accounts")
app.add_typer(kb_app, name="kb")
app.add_typer(tokens_app, name="tokens")
app.add_typer(config_app, name="config")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker_command)
app.command("demo")(demo_command)
app.command("simulator")(simulator_command)


def _settings_or_exit():  # type: ignore[no-untyped-def]
    settings = get_settings()
    try:
        settings.check()
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    return settings


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the web server (callbacks, API, console); on SQLite also the job worker."""
    import uvicorn

    from kefu.app import create_app
    from kefu.db import migrate
    from kefu.logs import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings.log_level, settings.log_json)
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    elif migrate.pending(settings.database_url):
        typer.echo("error: the database schema is behind; run `kefu db upgrade` first.", err=True)
        raise typer.Exit(2)
    uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from kefu.db import migrate

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    typer.echo("database is up to date")
