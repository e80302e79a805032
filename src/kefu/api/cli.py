"""`kefu tokens create|list|revoke`: bearer tokens for the REST API."""

from __future__ import annotations

from typing import Annotated

import typer

from kefu.api import tokens
from kefu.cli_runtime import echo_json, run_with_runtime
from kefu.runtime import Runtime

tokens_app = typer.Typer(help="API tokens (Authorization: Bearer …) for /api/v1.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. the integration's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once; only its hash is stored."""

    async def work(rt: Runtime) -> tuple[int, str]:
        async with rt.db.write() as session:
            row, token = await tokens.create_token(session, name=name, now=rt.clock.now(), actor="cli")
            return row.id, token

    token_id, token = run_with_runtime(work)
    if as_json:
        echo_json({"id": token_id, "name": name, "token": token})
        return
    typer.echo(f"API token {token_id} ({name}) created. Copy it now: it is not shown again.")
    typer.echo(token)


@tokens_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List tokens by name and prefix (the tokens themselves are not stored)."""

    async def work(rt: Runtime) -> list[dict[str, object]]:
        async with rt.db.read() as session:
            rows = await tokens.list_tokens(session)
        return [
            {
                "id": r.id,
                "name": r.name,
                "prefix": r.prefix,
                "created_at": r.created_at.isoformat(),
                "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
            }
            for r in rows
        ]

    rows = run_with_runtime(work)
    if as_json:
        echo_json({"tokens": rows})
        return
    if not rows:
        typer.echo("No API tokens: create one with `kefu tokens create --name NAME`.")
    for r in rows:
        typer.echo(
            f"{r['id']}  {r['name']}  {r['prefix']}…  created {r['created_at']}  "
            f"last used {r['last_used_at'] or 'never'}"
        )


@tokens_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name (or id).")]) -> None:
    """Revoke a token: requests carrying it get 401 from now on."""

    async def work(rt: Runtime) -> str:
        async with rt.db.write() as session:
            row = await tokens.revoke_token(session, name, actor="cli")
            return row.name

    revoked = run_with_runtime(work)
    typer.echo(f"API token {revoked!r} revoked.")
