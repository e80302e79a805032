"""`kefu connections add|list|update|delete|check`: 新建接入 from the command line."""

from __future__ import annotations

import sys
from typing import Annotated
from urllib.parse import urlsplit

import typer

from kefu.accounts import connection_ops, service
from kefu.accounts.models import Connection
from kefu.accounts.schemas import (
    ConnectionCheckOut,
    ConnectionOut,
    ConnectionSaved,
    check_out,
    connection_out,
)
from kefu.cli_runtime import confirm, echo_json, fail, run_with_runtime
from kefu.db.base import row_id_of
from kefu.errors import NotFound
from kefu.runtime import Runtime
from kefu.settings import get_settings
from kefu.threaded_server import is_loopback

connections_app = typer.Typer(
    help="WeCom connections (新建接入): corp, app secret, callback keys.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
NoCheckOpt = Annotated[
    bool,
    typer.Option("--no-check", help="Save even if the check against WeCom fails (the failure is recorded)."),
]
BootstrapOpt = Annotated[
    str, typer.Option(help="skip: history before now is stored but not acted on; backfill: act on it too.")
]


# Secrets on the command line end up in shell history and in `ps`; these variables (or the
# hidden prompt, or `-` to read a line from stdin) keep them out of both.
SECRET_ENV = {"secret": "KEFU_CORP_SECRET", "token": "KEFU_CALLBACK_TOKEN", "aes_key": "KEFU_AES_KEY"}
FROM_STDIN = "-"
HIDDEN_VALUE_HELP = (
    " Safest from the environment ({env}) or the hidden prompt; `-` reads a line from stdin; "
    "a value given here is visible in `ps` and your shell history."
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _secret_opt(name: str, help_text: str) -> typer.models.OptionInfo:
    return typer.Option(
        _flag(name),
        envvar=SECRET_ENV[name],
        show_default=False,
        help=help_text + HIDDEN_VALUE_HELP.format(env=SECRET_ENV[name]),
    )


def _ask_missing(values: dict[str, str | None]) -> dict[str, str | None]:
    """`add`'s hidden prompt for each value neither given nor in the environment, on a terminal
    only: without one (cron, CI, a pipe) click's prompt met end-of-input and said just "Aborted."."""
    missing = [name for name, value in values.items() if value is None]
    if missing and not sys.stdin.isatty():
        fail(
            "\n".join(
                f"{_flag(n)} is missing and there is no terminal to ask for it: give {_flag(n)} VALUE, "
                f"set {SECRET_ENV[n]}, or pass {_flag(n)} - to read it from stdin"
                for n in missing
            )
        )
    asked = dict(values)
    for name in missing:
        asked[name] = typer.prompt(name.replace("_", " ").capitalize(), hide_input=True)
    return asked


def _read_secrets(ctx: typer.Context, values: dict[str, str | None]) -> dict[str, str | None]:
    """Replace `-` by a line of stdin (in the order secret, token, aes key) and say which values
    came from the environment, so an `update` never changes a secret unannounced."""
    read: dict[str, str | None] = {}
    for name, value in values.items():
        if value == FROM_STDIN:
            value = sys.stdin.readline().rstrip("\r\n")
        read[name] = value
    # By name: typer carries its own copy of click, whose ParameterSource is another enum.
    sources = {n: getattr(ctx.get_parameter_source(n), "name", "") for n in values}
    from_env = [SECRET_ENV[n] for n in values if sources[n] == "ENVIRONMENT"]
    if from_env:
        typer.echo(f"Using {', '.join(from_env)} from the environment.", err=True)
    return read


def _warn_unreachable_public_url() -> None:
    """The callback URL is KEFU_PUBLIC_URL/…: a loopback default is not something WeCom can call."""
    settings = get_settings()
    host = urlsplit(settings.public_url).hostname or ""
    if "public_url" in settings.model_fields_set and not is_loopback(host):
        return
    why = (
        f"KEFU_PUBLIC_URL is not set (default {settings.public_url})"
        if "public_url" not in settings.model_fields_set
        else f"KEFU_PUBLIC_URL={settings.public_url} is a loopback address"
    )
    typer.echo(
        f"warning: {why}: WeCom cannot call this callback URL. Set KEFU_PUBLIC_URL to the address "
        "WeCom reaches (e.g. export KEFU_PUBLIC_URL=https://kefu.example.com; set it for `kefu "
        "serve` too), then `kefu connections list` prints the callback URL to paste into WeCom.",
        err=True,
    )


async def _resolve(rt: Runtime, ref: str) -> int:
    """A connection given by id or by name."""
    async with rt.db.read() as session:
        if (connection_id := row_id_of(ref)) is not None:
            return (await service.get_connection(session, connection_id)).id
        connection = await service.find_connection(session, ref)
    if connection is None:
        raise NotFound(f"no connection named {ref!r}")
    return connection.id


async def _view(rt: Runtime, connection_id: int) -> ConnectionOut:
    async with rt.db.read() as session:
        connection = await service.get_connection(session, connection_id)
        accounts = await service.list_accounts(session, connection_id)
    return connection_out(rt.settings, rt.secrets, connection, accounts)


def _print_saved(saved: ConnectionSaved, verb: str) -> None:
    c = saved.connection
    typer.echo(f"Connection {c.id} ({c.name}) {verb}.")
    typer.echo(f"Callback URL (paste into WeCom 微信客服 → API → 回调配置): {c.callback_url}")
    if saved.check is not None:
        _print_check(saved.check)


def _print_check(check: ConnectionCheckOut) -> None:
    status = "OK" if check.ok else f"FAILED ({check.problem})"
    typer.echo(f"Check: {status} — {check.message}")
    for account in check.accounts:
        may = "may manage" if account.manage_privilege else "may NOT manage"
        typer.echo(f"  {account.open_kfid}  {account.name}  ({may})")


@connections_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="A unique name; the config file refers to it.")],
    corp_id: Annotated[str, typer.Option("--corp-id", help="企业ID (我的企业 → 企业信息).")],
    secret: Annotated[
        str | None, _secret_opt("secret", "The self-built app's Secret (自建应用 Secret).")
    ] = None,
    token: Annotated[str | None, _secret_opt("token", "The callback Token (回调 Token).")] = None,
    aes_key: Annotated[str | None, _secret_opt("aes_key", "The callback EncodingAESKey (43 chars).")] = None,
    bootstrap: BootstrapOpt = "skip",
    no_check: NoCheckOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a connection: checks it against WeCom at once and prints the callback URL to paste into WeCom."""
    secrets = _read_secrets(ctx, _ask_missing({"secret": secret, "token": token, "aes_key": aes_key}))

    async def work(rt: Runtime) -> ConnectionSaved:
        connection, check = await connection_ops.create_connection(
            rt,
            name=name,
            corp_id=corp_id,
            secret=secrets["secret"] or "",
            callback_token=secrets["token"] or "",
            aes_key=secrets["aes_key"] or "",
            bootstrap=bootstrap,
            check=not no_check,
        )
        return ConnectionSaved(connection=await _view(rt, connection.id), check=check_out(check))

    saved = run_with_runtime(work)
    if as_json:
        echo_json(saved)
    else:
        _print_saved(saved, "saved")
    _warn_unreachable_public_url()


@connections_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List connections (secrets masked) with their accounts."""

    async def work(rt: Runtime) -> list[ConnectionOut]:
        async with rt.db.read() as session:
            ids = [c.id for c in await service.list_connections(session)]
        return [await _view(rt, i) for i in ids]

    views = run_with_runtime(work)
    if as_json:
        echo_json(views)
        return
    if not views:
        typer.echo("No connections yet: add one with `kefu connections add`.")
    for c in views:
        check = {True: "check OK", False: "check FAILED", None: "not checked"}[c.last_check_ok]
        typer.echo(
            f"{c.id}  {c.name}  corp {c.corp_id}  secret {c.secret}  token {c.callback_token}  "
            f"aes key {c.encoding_aes_key}  bootstrap {c.bootstrap}  {check}"
        )
        typer.echo(f"    callback URL: {c.callback_url}")
        if c.last_check_ok is False and c.last_check_message:
            typer.echo(f"    last check: {c.last_check_message}")
        for a in c.accounts:
            state = "" if a.authorized else "  (no longer authorised)"
            typer.echo(f"    account {a.id}  {a.open_kfid}  {a.name}{state}")


@connections_app.command("update")
def update(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="ID", help="The connection's id or name.")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    corp_id: Annotated[str | None, typer.Option("--corp-id")] = None,
    secret: Annotated[str | None, _secret_opt("secret", "New app Secret (checked against WeCom).")] = None,
    token: Annotated[str | None, _secret_opt("token", "New callback Token.")] = None,
    aes_key: Annotated[str | None, _secret_opt("aes_key", "New callback EncodingAESKey.")] = None,
    bootstrap: Annotated[str | None, typer.Option(help="skip | backfill")] = None,
    no_check: NoCheckOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a connection; a new corp ID or secret is checked against WeCom first."""
    secrets = _read_secrets(ctx, {"secret": secret, "token": token, "aes_key": aes_key})

    async def work(rt: Runtime) -> ConnectionSaved:
        connection_id = await _resolve(rt, ref)
        _, check = await connection_ops.update_connection(
            rt,
            connection_id,
            name=name,
            corp_id=corp_id,
            secret=secrets["secret"],
            callback_token=secrets["token"],
            aes_key=secrets["aes_key"],
            bootstrap=bootstrap,
            check=not no_check,
        )
        view = await _view(rt, connection_id)
        return ConnectionSaved(connection=view, check=check_out(check) if check is not None else None)

    saved = run_with_runtime(work)
    if as_json:
        echo_json(saved)
    else:
        _print_saved(saved, "updated")
    _warn_unreachable_public_url()


@connections_app.command("check")
def check(
    ref: Annotated[str, typer.Argument(metavar="ID", help="The connection's id or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a saved connection against WeCom again; on success its account list is refreshed."""

    async def work(rt: Runtime) -> ConnectionSaved:
        connection_id = await _resolve(rt, ref)
        _, result = await connection_ops.recheck_connection(rt, connection_id)
        return ConnectionSaved(connection=await _view(rt, connection_id), check=check_out(result))

    saved = run_with_runtime(work)
    if as_json:
        echo_json(saved)
    else:
        _print_saved(saved, "checked")
    if saved.check is not None and not saved.check.ok:
        raise typer.Exit(1)


@connections_app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(metavar="ID", help="The connection's id or name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connection with its accounts and their stored messages."""

    async def describe(rt: Runtime) -> tuple[int, str, int]:
        connection_id = await _resolve(rt, ref)
        view = await _view(rt, connection_id)
        return connection_id, view.name, len(view.accounts)

    connection_id, name, n_accounts = run_with_runtime(describe)
    if not yes:
        what = f"connection {connection_id} ({name}) with its {n_accounts} account(s)"
        confirm(f"Delete {what} and their messages?")

    async def work(rt: Runtime) -> Connection:
        return await connection_ops.delete_connection(rt, connection_id)

    run_with_runtime(work)
    typer.echo(f"Deleted connection {connection_id} ({name}).")
