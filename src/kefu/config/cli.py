"""`kefu config apply|export`: the configuration file (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.cli_runtime import confirm, fail, run_with_runtime, write_out
from kefu.config.apply import apply_config
from kefu.config.export import export_config
from kefu.config.loader import ConfigFileError, LoadedConfig, load_config
from kefu.config.report import ApplyReport
from kefu.runtime import Runtime

config_app = typer.Typer(
    help="Configuration as a file: apply and export (schema version 1).", no_args_is_help=True
)


@config_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(metavar="FILE.yaml", help="The config file.")],
    prune: Annotated[bool, typer.Option("--prune", help="Also remove what the file does not name.")] = False,
    delete_in_wecom: Annotated[
        bool,
        typer.Option(
            "--delete-in-wecom",
            help="With --prune: also delete the pruned accounts in WeCom (irreversible; asks first).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before --prune removes or deletes anything.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the plan; change nothing.")
    ] = False,
) -> None:
    """Create and update what the file names (all or nothing); `--prune` also stops managing the
    rest (accounts stay in WeCom unless `--delete-in-wecom`)."""
    if delete_in_wecom and not prune:
        fail("--delete-in-wecom deletes what --prune removes: give both")
    try:
        loaded = load_config(file)
    except ConfigFileError as exc:
        fail(exc.message)
    if prune and not dry_run and not yes:
        _confirm_removals(loaded, delete_in_wecom=delete_in_wecom)
    shown_warnings = 0

    def show_plan(report: ApplyReport) -> None:
        # Printed before anything is written, so what --prune removes is seen first.
        nonlocal shown_warnings
        for change in report.changes:
            typer.echo(change.describe())
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
        shown_warnings = len(report.warnings)

    async def work(rt: Runtime) -> ApplyReport:
        return await apply_config(
            rt, loaded, prune=prune, delete_in_wecom=delete_in_wecom, dry_run=dry_run, announce=show_plan
        )

    report = run_with_runtime(work)  # a ConfigFileError found against the database exits 2 there
    for note in report.notes:
        typer.echo(note)
    for warning in report.warnings[shown_warnings:]:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(report.summary())


def _confirm_removals(loaded: LoadedConfig, *, delete_in_wecom: bool) -> None:
    """What --prune removes leaves Kefu with its history (a connection with its accounts, an
    account with its conversations and messages), and an account deleted in WeCom loses its
    contact link and its customers' sessions for good: show them and ask (no answer, e.g. no
    terminal, is no)."""
    plan = run_with_runtime(
        lambda rt: apply_config(rt, loaded, prune=True, delete_in_wecom=delete_in_wecom, dry_run=True)
    )
    removed = [c for c in plan.changes if c.action == "remove"]
    if not removed:
        return
    held = {
        "connections": "its accounts, their conversations and messages",
        "accounts": "its conversations and messages",
    }
    for change in removed:
        what = held.get(change.section, "what it holds")
        typer.echo(f"{change.section}.{change.name}: will be removed from Kefu, with {what}")
    doomed = [c.name for c in removed if "delete_in_wecom" in c.fields]
    for name in doomed:
        typer.echo(f"accounts.{name}: will be DELETED IN WECOM")
    question = f"Remove {len(removed)} item(s) from Kefu"
    if doomed:
        question += f" and delete {len(doomed)} account(s) in WeCom"
    confirm(f"{question}? This cannot be undone")


@config_app.command("export")
def export(
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Write the current configuration as a file (secrets as ${VAR} placeholders); with --out,
    the accounts' knowledge bases go beside it as kb/*.csv."""
    out_dir = out.resolve().parent if out is not None else None
    if out is not None and not out.resolve().parent.is_dir():  # a mistyped folder is not created
        fail(f"cannot write {out}: there is no folder {out.parent}")
    try:
        text = run_with_runtime(lambda rt: export_config(rt, out_dir=out_dir))
    except OSError as exc:  # the kb/ files beside it
        fail(f"cannot write {exc.filename or out}: {exc.strerror or exc}")
    if out is None:
        typer.echo(text, nl=False)
        return
    write_out(out, text.encode("utf-8"))
    typer.echo(f"wrote {out}", err=True)
