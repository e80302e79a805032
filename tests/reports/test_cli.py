"""`kefu report` over the small hand-computed history (tests/reports/conftest.py): the same
figures as the API, as CSV, JSON or an XLSX workbook, for a period given in dates or in words,
and one clear line for each bad period."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kefu.reports.service import report
from kefu.runtime import Runtime
from tests.accounts.fixtures import ACliFn, acli, cli
from tests.reports.conftest import SmallHistory
from tests.reports.test_api import sheet_rows

__all__ = ["acli", "cli"]  # the `kefu` command in-process, on the test's database
PERIOD = ("--from", "2026-11-20", "--to", "2026-11-25")
# The test clock's morning, 2026-11-25 10:00 in Shanghai, for a `kefu` process.
NOW = {"KEFU_CLOCK_START": "2026-11-25T02:00:00+00:00"}


async def test_csv_on_stdout_and_json_as_the_api_gives_it(
    rt: Runtime, acli: ACliFn, small_history: SmallHistory
) -> None:
    account = str(small_history.shanghai.id)
    answer = await acli("report", *PERIOD, "--account", account)
    assert answer.exit_code == 0, answer.output
    lines = answer.stdout.lstrip("\ufeff").splitlines()
    assert lines[0] == "section,item,value"
    for line in (
        "sessions,started,6",
        "sessions,transferred_between_servicers,1",
        "end_reason,queue_timeout,1",
        "satisfaction,participation_rate,1.0",
        "servicer:zhangsan,unanswered,1",
    ):
        assert line in lines
    as_json = await acli("report", *PERIOD, "--account", account, "--format", "json")
    async with rt.db.read() as session:
        same = await report(session, first_day=None, last_day=None, account_id=None, clock=rt.clock)
    assert json.loads(as_json.stdout)["end_reasons"] == {
        "servicer": 2,
        "ai_idle_timeout": 1,
        "queue_timeout": 1,
        "ended_by_hand": 1,
    }
    everyone = await acli("report", "--format", "json", env=NOW)  # the last 7 days, all accounts
    assert json.loads(everyone.stdout) == same.model_dump(mode="json")


async def test_files_by_format_or_by_suffix(
    acli: ACliFn, small_history: SmallHistory, tmp_path: Path
) -> None:
    workbook = tmp_path / "report.xlsx"
    written = await acli(
        "report", *PERIOD, "--account", str(small_history.shanghai.id), "--output", str(workbook)
    )
    assert written.exit_code == 0, written.output
    assert written.stderr == f"wrote {workbook} (2026-11-20 to 2026-11-25, Asia/Shanghai)\n"
    sheets = sheet_rows(workbook.read_bytes())
    assert sheets["servicers"][1] == ["zhangsan", 2, 2, 1, 1, 1, 30, 2, 50, 1]
    as_json = tmp_path / "nightly.json"
    assert (await acli("report", *PERIOD, "--output", str(as_json))).exit_code == 0
    assert json.loads(as_json.read_text())["sessions_started"] == 7  # both accounts: 6 and 1
    named = tmp_path / "report.txt"
    assert (await acli("report", *PERIOD, "--format", "CSV", "--output", str(named))).exit_code == 0
    assert "sessions,started,7" in named.read_text(encoding="utf-8-sig").splitlines()


async def test_yesterday_in_the_accounts_time_zone(acli: ACliFn, small_history: SmallHistory) -> None:
    """At 02:00 UTC it is 10:00 on 11-25 in Shanghai and 02:00 on 11-25 in London."""
    shanghai = await acli(
        "report",
        "--from",
        "yesterday",
        "--to",
        "Yesterday",
        "--account",
        "wkShanghai",
        "--format",
        "json",
        env=NOW,
    )
    body = json.loads(shanghai.stdout)
    assert (body["first_day"], body["last_day"], body["sessions_started"]) == ("2026-11-24", "2026-11-24", 2)
    london = json.loads(
        (
            await acli("report", "--to", "yesterday", "--account", "wkLondon", "--format", "json", env=NOW)
        ).stdout
    )
    assert (london["first_day"], london["last_day"], london["timezone"]) == (
        "2026-11-18",
        "2026-11-24",
        "Europe/London",
    )
    assert london["sessions_started"] == 1
    today = json.loads((await acli("report", "--from", "today", "--format", "json", env=NOW)).stdout)
    assert (today["first_day"], today["last_day"]) == ("2026-11-25", "2026-12-01")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--from", "2026-13-01"),
            "--from '2026-13-01' is not a day: YYYY-MM-DD, today or yesterday (in the account's time zone)",
        ),
        (
            ("--to", "last week"),
            "--to 'last week' is not a day: YYYY-MM-DD, today or yesterday (in the account's time zone)",
        ),
        (("--from", "2026-11-25", "--to", "2026-11-20"), "from must not be after to"),
        (("--from", "2024-01-01", "--to", "2026-11-20"), "a report covers at most 366 days"),
        (("--from", "1999-12-31"), "dates must lie between 2000-01-01 and 2999-12-31"),
        (("--account", "wkNobody"), "no account with id or open_kfid 'wkNobody'"),
        (("--format", "pdf"), "--format 'pdf': one of csv, xlsx, json"),
        (("--format", "xlsx"), "--format xlsx writes a workbook: give --output FILE"),
    ],
)
async def test_a_bad_period_or_option_is_one_line(
    acli: ACliFn, small_history: SmallHistory, args: tuple[str, ...], error: str
) -> None:
    answer = await acli("report", *args)
    assert (answer.exit_code, answer.stdout, answer.stderr) == (2, "", f"error: {error}\n")
