"""`kefu simulator`: run the WeCom simulator in the foreground (wired into kefu/cli.py)."""

from __future__ import annotations

import typer
import uvicorn

from kefu.clock import Clock
from kefu.simulator.app import create_simulator_app


def simulator_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (keep it on loopback)."),
    port: int = typer.Option(8900, help="Port to listen on."),
    callback_timeout: float = typer.Option(5.0, help="Seconds to wait for a callback's HTTP 200."),
) -> None:
    """Run a fake WeCom 微信客服 API (/cgi-bin/...) with its control API (/_sim/api/...)."""
    app = create_simulator_app(clock=Clock(), callback_timeout_s=callback_timeout)
    typer.echo(f"WeCom simulator on http://{host}:{port}  (control API: /_sim/api/, docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")
