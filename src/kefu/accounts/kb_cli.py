"""`kefu kb import|export|list`: an account's knowledge base (the built-in AI) from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.accounts.kf_accounts import resolve_account
from kefu.accounts.knowledge_base import KbImport, entries_csv, import_csv, list_entries
from kefu.ai.kb_csv import RowError
from kefu.ai.knowledge import KnowledgeEntry
from kefu.cli_runtime import fail, run_with_runtime
from kefu.runtime import Runtime

kb_app = typer.Typer(
    help="Knowledge base of an account (the built-in AI): import and export CSV.", no_args_is_help=True
)

AccountOpt = Annotated[str, typer.Option("--account", help="The account's id or open_kfid.")]


@kb_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="id,question,answer[,alt_questions,tags]")],
    account: AccountOpt,
    replace: Annotated[
        bool, typer.Option("--replace", help="Also remove the account's entries that the file does not have.")
    ] = False,
) -> None:
    """Import entries (added or updated by id). Bad rows are reported by line; good rows are kept."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    async def work(rt: Runtime) -> tuple[int, KbImport]:
        async with rt.db.write() as session:
            row = await resolve_account(session, account)
            return row.id, await import_csv(session, row.id, data, replace=replace, now=rt.clock.now())

    account_id, result = run_with_runtime(work)
    _print_errors(file, result.errors)
    done = ", ".join(result.changes.describe()) or "nothing changed"
    typer.echo(f"account {account_id}: {done} ({result.changes.unchanged} unchanged) from {file}")
    if result.removal_skipped:
        typer.echo(
            "--replace removed nothing because some rows are bad (one may be an entry's edit): "
            "fix them and import again",
            err=True,
        )
    if result.errors:
        raise typer.Exit(1)


def _print_errors(file: Path, errors: list[RowError]) -> None:
    for error in errors:
        typer.echo(f"{file}:{error.line}: {error.reason} (row skipped)", err=True)


@kb_app.command("export")
def export(
    account: AccountOpt,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Write the account's entries as CSV (UTF-8), the format `kefu kb import` reads."""

    async def work(rt: Runtime) -> list[KnowledgeEntry]:
        async with rt.db.read() as session:
            row = await resolve_account(session, account)
            return await list_entries(session, row.id)

    text = entries_csv(run_with_runtime(work))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}", err=True)


@kb_app.command("list")
def list_(account: AccountOpt) -> None:
    """Show the account's entries: id and question."""

    async def work(rt: Runtime) -> list[KnowledgeEntry]:
        async with rt.db.read() as session:
            row = await resolve_account(session, account)
            return await list_entries(session, row.id)

    entries = run_with_runtime(work)
    if not entries:
        typer.echo("No entries: this account's AI answers every question with the not-sure text.")
    for entry in entries:
        more = f"  (+{len(entry.alt_questions)} alternative questions)" if entry.alt_questions else ""
        typer.echo(f"{entry.id}  {entry.question}{more}")
