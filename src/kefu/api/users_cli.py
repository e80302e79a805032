"""`kefu users create|list|passwd|disable|enable`: who signs in to the console.

Passwords come from standard input (a prompt on a terminal), never from an argument that
`ps` and the shell history would show; nothing secret is printed."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kefu.api import users
from kefu.cli_runtime import echo_json, run_with_runtime
from kefu.runtime import Runtime

users_app = typer.Typer(help="Console users (控制台用户) and their roles.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input without a prompt.")
]


def read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        typer.echo("error: no password on standard input", err=True)
        raise typer.Exit(2)
    return password


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option(help="The sign-in name.")],
    role: Annotated[str, typer.Option(help="admin, supervisor or servicer.")],
    wecom_userid: Annotated[
        str | None, typer.Option(help="The servicer's WeCom userid (required for role servicer).")
    ] = None,
    display_name: Annotated[str, typer.Option(help="The name shown in the console.")] = "",
    password_stdin: StdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a console user; the password is read from standard input."""
    password = read_password(password_stdin)

    async def work(rt: Runtime) -> int:
        async with rt.db.write() as session:
            user = await users.create_user(
                session,
                username=username,
                password=password,
                role=role,
                wecom_userid=wecom_userid,
                display_name=display_name,
                actor="cli",
            )
            return user.id

    user_id = run_with_runtime(work)
    if as_json:
        echo_json({"id": user_id, "username": username, "role": role})
        return
    typer.echo(f"User {user_id} {username!r} ({role}) created.")


@users_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List console users with their role and last sign-in."""

    async def work(rt: Runtime) -> list[dict[str, object]]:
        async with rt.db.read() as session:
            rows = await users.list_users(session)
        return [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "wecom_userid": u.wecom_userid,
                "disabled": u.disabled,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in rows
        ]

    rows = run_with_runtime(work)
    if as_json:
        echo_json({"users": rows})
        return
    if not rows:
        typer.echo("No console users: create one with `kefu users create --username NAME --role admin`.")
    for r in rows:
        state = " (disabled)" if r["disabled"] else ""
        last = r["last_login_at"] or "never"
        typer.echo(f"{r['id']}  {r['username']}  {r['role']}{state}  last sign-in {last}")


@users_app.command("passwd")
def passwd(username: Annotated[str, typer.Argument()], password_stdin: StdinOpt = False) -> None:
    """Set a user's password (read from standard input); signs out their browsers."""
    password = read_password(password_stdin)

    async def work(rt: Runtime) -> None:
        async with rt.db.write() as session:
            await users.set_password(session, await users.find_user(session, username), password, actor="cli")

    run_with_runtime(work)
    typer.echo(f"Password of {username!r} changed; their sessions were signed out.")


def _set_disabled(username: str, disabled: bool) -> None:
    async def work(rt: Runtime) -> None:
        async with rt.db.write() as session:
            await users.set_disabled(session, await users.find_user(session, username), disabled, actor="cli")

    run_with_runtime(work)
    typer.echo(f"User {username!r} {'disabled' if disabled else 'enabled'}.")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in (and sign out their browsers)."""
    _set_disabled(username, True)


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(username, False)
