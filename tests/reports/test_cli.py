"""`kefu report` over the small hand-computed history (tests/reports/conftest.py): the same
figures as the API, as CSV, JSON or an XLSX workbook, for a period given in dates or in words,
and one clear line for each bad period."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kefu.reports.service import report
from kefu.runtime import Runtime
from kefu.settings import Settings
from tests.accounts.fixtures import ACliFn, acli, cli, cli_env
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


# The `kefu` command as a process whose files may not grow past 1 KiB (RLIMIT_FSIZE; Python
# ignores SIGXFSZ, so a write past it fails with EFBIG): a disk that fills up half-way.
SMALL_DISK = """import resource, runpy, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
sys.argv = ["kefu", *sys.argv[1:]]
runpy.run_module("kefu.cli", run_name="__main__")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs RLIMIT_FSIZE (POSIX)")
async def test_a_write_that_fails_half_way_leaves_no_truncated_file(
    settings: Settings, small_history: SmallHistory, tmp_path: Path
) -> None:
    """`--output` was written in place: a write cut off by a full disk (or a crash) left a file
    with the final name and half a report in it, over yesterday's good one. It is written beside
    it and renamed into place: the old file stays whole, a new one is not created. (JSON: the
    report is some 3 KiB; openpyxl's own temporary files would hit the limit before Kefu writes.)"""
    folder = tmp_path / "reports"
    folder.mkdir()
    kept = folder / "kept.json"
    kept.write_bytes(b"yesterday's report")
    for out in (kept, folder / "new.json"):
        process = subprocess.run(  # noqa: ASYNC221 — a short process the test waits for
            [sys.executable, "-c", SMALL_DISK, "report", *PERIOD, "--output", str(out)],
            env={**os.environ, **cli_env(settings)},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert (process.returncode, process.stderr) == (2, f"error: cannot write {out}: File too large\n")
    assert kept.read_bytes() == b"yesterday's report"
    assert [p.name for p in folder.iterdir()] == ["kept.json"]  # no temporary file left


async def test_a_replaced_file_keeps_its_mode_and_a_link_keeps_pointing_at_it(
    acli: ACliFn, small_history: SmallHistory, tmp_path: Path
) -> None:
    """Written in place, the file kept its mode and a symbolic link led to it; renamed into place,
    it still does. A folder given as the file is one error line, as before."""
    folder = tmp_path / "reports"
    folder.mkdir()
    daily = folder / "daily.csv"
    daily.write_text("old")
    daily.chmod(0o640)
    (folder / "latest.csv").symlink_to(daily)
    written = await acli("report", *PERIOD, "--output", str(folder / "latest.csv"))
    assert written.exit_code == 0, written.output
    assert "sessions,started,7" in daily.read_text(encoding="utf-8-sig").splitlines()
    assert (folder / "latest.csv").is_symlink() and stat.S_IMODE(daily.stat().st_mode) == 0o640
    refused = await acli("report", *PERIOD, "--format", "csv", "--output", str(folder))
    assert (refused.exit_code, refused.stderr) == (2, f"error: cannot write {folder}: Is a directory\n")
    assert sorted(p.name for p in folder.iterdir()) == ["daily.csv", "latest.csv"]
