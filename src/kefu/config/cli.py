"""`kefu config apply|export`: the configuration file (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.cli_runtime import fail, run_with_runtime
from kefu.config.apply import apply_config
from kefu.config.export import export_config
from kefu.config.loader import ConfigFileError, load_config
from kefu.config.report import ApplyReport
from kefu.runtime import Runtime

config_app = typer.Typer(
    help="Configuration as a file: apply and export (schema version 1).", no_args_is_help=True
)


@config_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(metavar="FILE.yaml", help="The config file.")],
    prune: Annotated[bool, typer.Option("--prune", help="Also remove what the file does not name.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the plan; change nothing.")
    ] = False,
) -> None:
    """Create and update what the file names (all or nothing); `--prune` also removes the rest."""
    try:
        loaded = load_config(file)
    except ConfigFileError as exc:
        fail(exc.message)
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
        return await apply_config(rt, loaded, prune=prune, dry_run=dry_run, announce=show_plan)

    report = run_with_runtime(work)  # a ConfigFileError found against the database exits 2 there
    for note in report.notes:
        typer.echo(note)
    for warning in report.warnings[shown_warnings:]:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(report.summary())


@config_app.command("export")
def export(
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Write the current configuration as a file (secrets as ${VAR} placeholders); with --out,
    the accounts' knowledge bases go beside it as kb/*.csv."""
    out_dir = out.resolve().parent if out is not None else None
    text = run_with_runtime(lambda rt: export_config(rt, out_dir=out_dir))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}", err=True)
