"""`kefu crm customers|contacts|unbound|import|bind|unbind|delete`: the CRM from the command line
(what `/api/v1/crm` does, without a token or a server). Cards are created and changed by `import`
(an upsert by external id, the way an existing CRM hands its data over)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.accounts.service import get_connection
from kefu.ai.kb_csv import RowError
from kefu.cli_runtime import echo_json, fail, run_with_runtime
from kefu.crm import identity, service, webhooks
from kefu.crm.csv_import import CrmImport, import_files
from kefu.crm.schemas import ContactOut, CustomerOut, WechatCustomerOut
from kefu.runtime import Runtime

crm_app = typer.Typer(
    help="CRM: customers (companies), contacts (people), WeChat customers; CSV import.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SearchArg = Annotated[str | None, typer.Argument(help="Part of a name, phone or email, or an external id.")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="Only cards with this tag.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=service.MAX_PAGE)]


@crm_app.command("customers")
def customers(
    q: SearchArg = None, tag: TagOpt = None, limit: LimitOpt = 100, as_json: JsonOpt = False
) -> None:
    """List or search customers (companies)."""

    async def work(rt: Runtime) -> list[CustomerOut]:
        async with rt.db.read() as session:
            rows = await service.search_customers(session, q=q, tag=tag, limit=limit)
            return [CustomerOut.model_validate(row) for row in rows]

    rows = run_with_runtime(work)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(f"{row.id}  {row.external_id or '-'}  {row.name}  专属客服={row.exclusive_userid or '-'}")


@crm_app.command("contacts")
def contacts(
    q: SearchArg = None,
    tag: TagOpt = None,
    customer: Annotated[
        int | None, typer.Option("--customer", help="Only contacts of this customer id.")
    ] = None,
    limit: LimitOpt = 100,
    as_json: JsonOpt = False,
) -> None:
    """List or search contacts (people)."""

    async def work(rt: Runtime) -> list[ContactOut]:
        async with rt.db.read() as session:
            rows = await service.search_contacts(session, q=q, tag=tag, customer_id=customer, limit=limit)
            return [ContactOut.model_validate(row) for row in rows]

    rows = run_with_runtime(work)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        company = f"customer {row.customer_id}" if row.customer_id else "no customer"
        servicer = row.exclusive_userid or "-"
        typer.echo(f"{row.id}  {row.external_id or '-'}  {row.name}  ({company})  专属客服={servicer}")


@crm_app.command("unbound")
def unbound(
    connection: Annotated[int | None, typer.Option("--connection", help="Only this connection id.")] = None,
    limit: LimitOpt = 100,
    as_json: JsonOpt = False,
) -> None:
    """WeChat customers not bound to a contact yet, newest first (to follow up)."""

    async def work(rt: Runtime) -> list[WechatCustomerOut]:
        async with rt.db.read() as session:
            rows = await identity.wechat_customers(
                session, connection_id=connection, unbound=True, limit=limit
            )
            return [WechatCustomerOut.model_validate(row) for row in rows]

    rows = run_with_runtime(work)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(f"{row.id}  connection {row.connection_id}  {row.external_userid}  {row.nickname or '-'}")


@crm_app.command("import")
def import_(
    customers_file: Annotated[
        Path | None,
        typer.Option("--customers", help="CSV: external_id,name[,phone,email,tags,notes,exclusive_userid]"),
    ] = None,
    contacts_file: Annotated[
        Path | None,
        typer.Option(
            "--contacts", help="CSV: external_id,name[,customer_external_id,…,exclusive_userid,unionid]"
        ),
    ] = None,
) -> None:
    """Upsert customers and contacts by external id. Bad rows are reported by line; good rows are
    kept; other columns become custom fields. Exit code 1 when a row was bad."""
    if customers_file is None and contacts_file is None:
        fail("give --customers FILE.csv and/or --contacts FILE.csv")
    data: dict[str, bytes | None] = {}
    for key, path in (("customers", customers_file), ("contacts", contacts_file)):
        try:
            data[key] = path.read_bytes() if path is not None else None
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")

    async def work(rt: Runtime) -> CrmImport:
        async with rt.db.write() as session:
            return await import_files(
                session,
                customers=data["customers"],
                contacts=data["contacts"],
                now=rt.clock.now(),
                actor="cli",
            )

    result = run_with_runtime(work)
    for path, errors, counts, kind in (
        (customers_file, result.customer_errors, result.customers, "customers"),
        (contacts_file, result.contact_errors, result.contacts, "contacts"),
    ):
        if path is None:
            continue
        _print_errors(path, errors)
        typer.echo(
            f"{kind}: {counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged, "
            f"{len(errors)} bad rows from {path}"
        )
    if result.errors:
        raise typer.Exit(1)


ConnectionOpt = Annotated[int, typer.Option("--connection", help="The connection id the customer wrote to.")]
ExternalUserid = Annotated[str, typer.Argument(help="The WeChat customer's external_userid (wm…).")]
BY_CLI = "cli"


@crm_app.command("bind")
def bind(
    external_userid: ExternalUserid,
    contact_id: Annotated[int, typer.Argument(help="The contact's id.")],
    connection: ConnectionOpt,
) -> None:
    """Bind a WeChat customer to a contact (recorded, and told to the webhook); the exclusive
    servicer rule then finds their 专属客服."""

    async def work(rt: Runtime) -> str:
        now = rt.clock.now()
        async with rt.db.write() as session:
            await get_connection(session, connection)
            customer = await identity.note_wechat_customer(session, connection, external_userid, now=now)
            event = await identity.bind(session, customer.id, contact_id, by=BY_CLI, now=now)
            await webhooks.emit_binding(session, rt.settings, event)
        return "bound" if event is not None else "already bound to that contact"

    typer.echo(f"{external_userid}: {run_with_runtime(work)}")


@crm_app.command("unbind")
def unbind(external_userid: ExternalUserid, connection: ConnectionOpt) -> None:
    """Unbind a WeChat customer from their contact (recorded, and told to the webhook)."""

    async def work(rt: Runtime) -> None:
        async with rt.db.write() as session:
            customer = await identity.find_wechat_customer(session, connection, external_userid)
            if customer is None:
                fail(f"no WeChat customer {external_userid} on connection {connection}")
            event = await identity.unbind(session, customer.id, by=BY_CLI, now=rt.clock.now())
            await webhooks.emit_binding(session, rt.settings, event)

    run_with_runtime(work)
    typer.echo(f"{external_userid}: unbound")


@crm_app.command("delete")
def delete(
    kind: Annotated[str, typer.Argument(help="customer or contact")],
    card_id: Annotated[int, typer.Argument(help="Its id.")],
) -> None:
    """Delete a customer (its contacts stay, without a company) or a contact (its WeChat customers
    are unbound first, on the record)."""
    if kind not in ("customer", "contact"):
        fail("delete customer ID, or delete contact ID")

    async def work(rt: Runtime) -> None:
        async with rt.db.write() as session:
            if kind == "customer":
                await service.delete_customer(session, card_id)
                return
            await service.get_contact(session, card_id)
            for event in await identity.unbind_contact(session, card_id, by=BY_CLI, now=rt.clock.now()):
                await webhooks.emit_binding(session, rt.settings, event)
            await service.delete_contact(session, card_id)

    run_with_runtime(work)
    typer.echo(f"{kind} {card_id}: deleted")


def _print_errors(path: Path, errors: list[RowError]) -> None:
    for error in errors:
        typer.echo(f"{path}:{error.line}: {error.reason} (row skipped)", err=True)
