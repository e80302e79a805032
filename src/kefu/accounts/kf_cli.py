"""`kefu accounts …`: 在线客服账号 — list, show, create/adopt, update, enable/disable, delete,
contact link and QR code, servicers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel

from kefu.accounts import contact, kf_accounts, servicers
from kefu.accounts.kf_schemas import AccountOut, ServicersOut, account_out, servicer_out
from kefu.accounts.service import find_connection, get_connection
from kefu.cli_runtime import confirm, echo_json, fail, run_with_runtime, write_out
from kefu.db.base import row_id_of
from kefu.errors import NotFound
from kefu.runtime import Runtime

accounts_app = typer.Typer(
    help="在线客服账号: accounts under a connection, their servicers and contact links.", no_args_is_help=True
)

Ref = Annotated[str, typer.Argument(metavar="ID", help="The account's id or open_kfid.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
AvatarOpt = Annotated[
    Path | None, typer.Option("--avatar", help="在线客服头像: a PNG or JPEG file (≤ 2 MB).")
]


async def _id(rt: Runtime, ref: str) -> int:
    async with rt.db.read() as session:
        return (await kf_accounts.resolve_account(session, ref)).id


async def _view(rt: Runtime, account_id: int) -> AccountOut:
    async with rt.db.read() as session:
        account = await kf_accounts.get_account(session, account_id)
        return account_out(account, await servicers.list_servicers(session, account_id))


async def _connection_id(rt: Runtime, ref: str) -> int:
    async with rt.db.read() as session:
        if (connection_id := row_id_of(ref)) is not None:
            return (await get_connection(session, connection_id)).id
        connection = await find_connection(session, ref)
    if connection is None:
        raise NotFound(f"no connection named {ref!r}")
    return connection.id


def _print(view: AccountOut) -> None:
    state = "enabled" if view.enabled else "DISABLED"
    managed = "" if view.authorized else "  (this app may no longer manage it)"
    typer.echo(
        f"{view.id}  {view.open_kfid}  {view.name}  {state}  settings v{view.settings_version}{managed}"
    )
    if view.contact_url:
        scene = f" (scene {view.contact_scene})" if view.contact_scene else ""
        typer.echo(f"    link: {view.contact_url}{scene}")
    for s in view.servicers:
        status = "接待中" if s.receiving else ("暂时挂起" if s.stop_type == 1 else "停止接待")
        cap = f"max {s.max_sessions}" if s.max_sessions else "max default"
        problem = f"  NOT IN WECOM: {s.last_error}" if not s.in_wecom else ""
        name = f"  {s.name}" if s.name else ""
        typer.echo(f"    servicer {s.userid}{name}  {status}  {cap}{problem}")


def _show(view: AccountOut, as_json: bool) -> None:
    if as_json:
        echo_json(view)
    else:
        _print(view)


@accounts_app.command("list")
def list_(
    connection: Annotated[str | None, typer.Option(help="Only this connection (id or name).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List accounts with their servicers."""

    async def work(rt: Runtime) -> list[AccountOut]:
        connection_id = await _connection_id(rt, connection) if connection else None
        async with rt.db.read() as session:
            ids = [a.id for a in await kf_accounts.list_all_accounts(session, connection_id)]
        return [await _view(rt, i) for i in ids]

    views = run_with_runtime(work)
    if as_json:
        echo_json(list[BaseModel](views))
        return
    if not views:
        typer.echo("No accounts yet: `kefu accounts create --connection NAME --name 名称`.")
    for view in views:
        _print(view)


@accounts_app.command("show")
def show(ref: Ref, as_json: JsonOpt = False) -> None:
    """One account with its servicers and link."""
    _show(run_with_runtime(lambda rt: _view_ref(rt, ref)), as_json)


async def _view_ref(rt: Runtime, ref: str) -> AccountOut:
    return await _view(rt, await _id(rt, ref))


@accounts_app.command("create")
def create(
    connection: Annotated[str, typer.Option(help="The connection (id or name).")],
    name: Annotated[str | None, typer.Option(help="在线客服名称, 1–16 characters.")] = None,
    open_kfid: Annotated[
        str | None, typer.Option("--open-kfid", help="Adopt this existing account instead of creating one.")
    ] = None,
    avatar: AvatarOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account in WeCom (the avatar uploaded; a default one when none), or adopt one."""
    if name is None and open_kfid is None:
        fail("give --name to create an account, or --open-kfid to adopt one")

    async def work(rt: Runtime) -> AccountOut:
        connection_id = await _connection_id(rt, connection)
        image = kf_accounts.Avatar.from_file(avatar) if avatar else None
        if open_kfid is not None:
            account = await kf_accounts.adopt_account(
                rt,
                connection_id=connection_id,
                open_kfid=open_kfid,
                name=name,
                avatar=image,
                enabled=not disabled,
            )
        else:
            assert name is not None
            account = await kf_accounts.create_account(
                rt, connection_id=connection_id, name=name, avatar=image, enabled=not disabled
            )
        return await _view(rt, account.id)

    _show(run_with_runtime(work), as_json)


@accounts_app.command("update")
def update(
    ref: Ref,
    name: Annotated[str | None, typer.Option(help="New name (changed in WeCom too).")] = None,
    avatar: AvatarOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename the account or change its avatar (uploaded only when the image changed)."""

    async def work(rt: Runtime) -> AccountOut:
        account_id = await _id(rt, ref)
        image = kf_accounts.Avatar.from_file(avatar) if avatar else None
        await kf_accounts.update_account(rt, account_id, name=name, avatar=image)
        return await _view(rt, account_id)

    _show(run_with_runtime(work), as_json)


def _switch(ref: str, enabled: bool) -> None:
    async def work(rt: Runtime) -> AccountOut:
        account_id = await _id(rt, ref)
        await kf_accounts.set_enabled(rt, account_id, enabled)
        return await _view(rt, account_id)

    view = run_with_runtime(work)
    typer.echo(f"Account {view.id} ({view.name}) {'enabled' if enabled else 'disabled'}.")


@accounts_app.command("enable")
def enable(ref: Ref) -> None:
    """启用: serve the account's conversations again."""
    _switch(ref, True)


@accounts_app.command("disable")
def disable(ref: Ref) -> None:
    """停用: its messages are still pulled and stored; no AI, no routing, no link offered."""
    _switch(ref, False)


@accounts_app.command("delete")
def delete(
    ref: Ref, yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False
) -> None:
    """Delete the account in WeCom (kf/account/del) and in Kefu, with its messages."""
    if not yes:
        confirm(f"Delete account {ref} in WeCom and Kefu, with its messages?")

    async def work(rt: Runtime) -> str:
        account = await kf_accounts.delete_account(rt, await _id(rt, ref))
        return f"Account {account.id} ({account.name}, {account.open_kfid}) deleted."

    typer.echo(run_with_runtime(work))


@accounts_app.command("link")
def link(
    ref: Ref,
    scene: Annotated[
        str | None, typer.Option(help="1–32 of [0-9A-Za-z_-]; comes back in enter_session.")
    ] = None,
) -> None:
    """Make a new contact link (kf/add_contact_way) and print it."""

    async def work(rt: Runtime) -> str:
        account = await contact.create_link(rt, await _id(rt, ref), scene=scene)
        return contact.offered_link(account)

    typer.echo(run_with_runtime(work))


@accounts_app.command("qr")
def qr(
    ref: Ref,
    out: Annotated[Path, typer.Option("--out", help="file.png or file.svg (the suffix picks the format).")],
) -> None:
    """Write the contact link's QR code (a link is made on first use)."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in contact.QR_FORMATS:
        fail(f"--out must end in .png or .svg, not {out.name!r}")

    async def work(rt: Runtime) -> str:
        return await contact.link_for(rt, await _id(rt, ref))

    url = run_with_runtime(work)
    write_out(out, contact.qr_code(url, kind))  # type: ignore[arg-type]
    typer.echo(f"wrote {out} ({url})", err=True)


@accounts_app.command("servicers")
def servicers_(
    ref: Ref,
    add: Annotated[
        list[str] | None,
        typer.Option(
            "--add",
            help="userid, userid:max_sessions or userid:max_sessions:name (lisi::李四 keeps the "
            "default cap); again for a listed userid to change its cap and name (repeatable).",
        ),
    ] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="userid (repeatable).")] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Re-read statuses from kf/servicer/list.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the servicers (接待人员); add or remove some (in WeCom too), or refresh their status."""

    async def work(rt: Runtime) -> ServicersOut:
        specs = [_spec(item) for item in add or []]
        account_id = await _id(rt, ref)
        problems: dict[str, str] = {}
        if specs:
            problems |= (await servicers.add_servicers(rt, account_id, specs)).problems
        if remove:
            problems |= (await servicers.remove_servicers(rt, account_id, remove)).problems
        if refresh:
            await servicers.refresh_servicers(rt, account_id)
        async with rt.db.read() as session:
            rows = await servicers.list_servicers(session, account_id)
        return ServicersOut(servicers=[servicer_out(r) for r in rows], problems=problems)

    result = run_with_runtime(work)
    if as_json:
        echo_json(result)
        return
    for s in result.servicers:
        status = "接待中" if s.receiving else "停止接待"
        problem = f"  NOT IN WECOM: {s.last_error}" if not s.in_wecom else ""
        name = f"  {s.name}" if s.name else ""
        typer.echo(f"{s.position}  {s.userid}{name}  {status}  max {s.max_sessions or 'default'}{problem}")
    if result.problems:
        raise typer.Exit(1)


def _spec(item: str) -> servicers.ServicerSpec:
    userid, _, rest = item.partition(":")
    cap, _, name = rest.partition(":")
    if cap and not (cap.isascii() and cap.isdigit()):
        fail(f"--add {item!r}: write userid, userid:max_sessions (a number) or userid:max_sessions:name")
    return servicers.ServicerSpec(userid, int(cap) if cap else None, name.strip() or None)
