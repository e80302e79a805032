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
from kefu.settings import get_settings
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


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the web server (callbacks, API, console); on SQLite also the job worker."""
    import uvicorn

    from kefu.app import create_app
    from kefu.cli_runtime import load_settings, prepare_schema, settle_process
    from kefu.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    prepare_schema(settings)
    app = create_app(settings=settings)
    settle_process()
    uvicorn.run(app, host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from kefu.db import migrate

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    typer.echo("database is up to date")


if __name__ == "__main__":
    app()
