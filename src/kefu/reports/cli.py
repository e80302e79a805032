"""`kefu report`: the summary of a period as CSV, XLSX or JSON, read from the database — what
/api/v1/reports gives, without a token or a server, for a nightly export by cron:

    kefu report --from yesterday --to yesterday --format xlsx --output /srv/reports/daily.xlsx
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

from kefu.accounts.kf_accounts import resolve_account
from kefu.cli_runtime import fail, run_with_runtime, write_out
from kefu.reports.export import summary_csv, summary_xlsx
from kefu.reports.period import timezone_of
from kefu.reports.service import report
from kefu.reports.summary import Summary
from kefu.runtime import Runtime

Format = Literal["csv", "xlsx", "json"]
FORMATS: dict[str, Format] = {"csv": "csv", "xlsx": "xlsx", "json": "json"}
# Days said in words, counted back from today in the report's time zone.
DAYS_BACK = {"today": 0, "yesterday": 1}
DayOpt = "YYYY-MM-DD, today or yesterday (in the account's time zone)"


def _day(text: str | None, option: str) -> date | int | None:
    """A day as given: a date, or how many days before today (resolved once the zone is known)."""
    if text is None:
        return None
    if text.strip().lower() in DAYS_BACK:
        return DAYS_BACK[text.strip().lower()]
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r} is not a day: {DayOpt}")


def _format(given: str | None, output: Path | None) -> Format:
    """--format as given, else what --output's suffix says, else CSV."""
    if given is not None:
        if given.lower() not in FORMATS:
            fail(f"--format {given!r}: one of {', '.join(FORMATS)}")
        return FORMATS[given.lower()]
    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    return FORMATS.get(suffix, "csv")


def report_command(
    first: Annotated[
        str | None, typer.Option("--from", help=f"First day, {DayOpt}. Default: 6 days before --to.")
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help=f"Last day, included: {DayOpt}. Default: 6 days after --from, or today."),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option("--account", help="Only this account (id or open_kfid). Default: all accounts."),
    ] = None,
    as_format: Annotated[
        str | None,
        typer.Option("--format", help="csv, xlsx or json. Default: from --output's suffix, else csv."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout (xlsx needs one).")
    ] = None,
) -> None:
    """The report of a period (whole days in the account's time zone, at most 366): sessions,
    AI-only resolution, transfers, how sessions ended, waits, first responses, satisfaction,
    per-servicer load. The same figures as the console's 报表 and /api/v1/reports."""
    wanted = _format(as_format, output)
    if wanted == "xlsx" and output is None:
        fail("--format xlsx writes a workbook: give --output FILE")
    from_day, to_day = _day(first, "--from"), _day(last, "--to")

    async def work(rt: Runtime) -> Summary:
        async with rt.db.read() as session:
            account_id = (await resolve_account(session, account)).id if account else None
            today = rt.clock.now().astimezone(await timezone_of(session, account_id)).date()

            def resolved(day: date | int | None) -> date | None:
                return today - timedelta(days=day) if isinstance(day, int) else day

            return await report(
                session,
                first_day=resolved(from_day),
                last_day=resolved(to_day),
                account_id=account_id,
                clock=rt.clock,
            )

    summary = run_with_runtime(work)
    if wanted == "xlsx":
        assert output is not None
        data = summary_xlsx(summary)
    else:
        text = summary_csv(summary) if wanted == "csv" else _json(summary)
        if output is None:
            typer.echo(text, nl=False)
            return
        data = text.encode("utf-8")
    write_out(output, data)
    typer.echo(f"wrote {output} ({summary.first_day} to {summary.last_day}, {summary.timezone})", err=True)


def _json(summary: Summary) -> str:
    """What GET /api/v1/reports/summary answers, indented."""
    return json.dumps(summary.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
