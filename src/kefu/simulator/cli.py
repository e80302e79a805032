"""`kefu simulator`: run the WeCom simulator in the foreground (wired into kefu/cli.py)."""

from __future__ import annotations

import secrets

import typer
import uvicorn

from kefu.clock import Clock
from kefu.simulator.app import create_simulator_app
from kefu.threaded_server import is_loopback


def refuse_remote(host: str, allow_remote: bool, what: str) -> str | None:
    """None on loopback; off loopback, an error without --allow-remote, else a new control token
    (the control API can read every corp's secrets and act as anyone: never open to a network)."""
    if is_loopback(host):
        return None
    if not allow_remote:
        typer.echo(
            f"error: {what} listens on loopback only; {host} would put the simulator's control API "
            "(every corp's secrets, any customer's actions) on the network. Add --allow-remote to "
            "do it anyway: the control API then needs a token.",
            err=True,
        )
        raise typer.Exit(2)
    return secrets.token_urlsafe(24)


def simulator_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(8900, help="Port to listen on."),
    callback_timeout: float = typer.Option(5.0, help="Seconds to wait for a callback's HTTP 200."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --host; /_sim/ then needs the printed token."
    ),
) -> None:
    """Run a fake WeCom 微信客服 API (/cgi-bin/...) with its control API (/_sim/api/...)."""
    token = refuse_remote(host, allow_remote, "the simulator")
    app = create_simulator_app(clock=Clock(), callback_timeout_s=callback_timeout, control_token=token)
    typer.echo(f"WeCom simulator on http://{host}:{port}  (control API: /_sim/api/, docs: /docs)")
    if token:
        typer.echo(
            f"warning: listening on {host}, beyond loopback: anyone who can reach it can call /cgi-bin/."
        )
        typer.echo(f"Control token (Authorization: Bearer …, or open /_sim/?token=…): {token}")
    uvicorn.run(app, host=host, port=port, log_level="info")
