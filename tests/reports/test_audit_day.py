"""The reports against a day played through the real reception (tests/reports/audit_day.py):
every figure below is worked out by hand from that timeline."""

from __future__ import annotations

import csv
import html as html_text
import io
import re
from typing import Any

import pytest

from tests.console.conftest import SignIn
from tests.factories import api_client
from tests.reception.conftest import WorldFactory
from tests.reports.audit_day import AuditDay, play_audit_day
from tests.reports.test_api import sheet_rows

pytestmark = [pytest.mark.db, pytest.mark.e2e]

# 12-01 in Shanghai, account 青禾: B, B2, C, D, N, E, J, A2, A3, F, M, G, K (A1, H: the days around).
DEC_1 = {
    "first_day": "2026-12-01",
    "last_day": "2026-12-01",
    "timezone": "Asia/Shanghai",
    "sessions_started": 13,
    "sessions_ended": 13,  # F too: WeCom's 48 h limit ended it on 12-03
    "ai_only_resolved": 3,  # A2, B2, K
    "ai_only_rate": 0.2308,
    "asked_human_not_transferred": 0,  # B asked off hours, and was transferred at the opening
    "transferred": 10,
    "transfer_rate": 0.7692,
    "transfer_reasons": {"keyword": 7, "button": 1, "not_sure_streak": 1, "opening_reached": 1},
    # B, C, D, N, J, M, G by their servicer in the WeCom app; B2, A2, K by the AI idle timeout;
    # E by the queue timeout; A3 by hand through the API; F by WeCom's 48 h limit.
    "end_reasons": {
        "servicer": 7,
        "ai_idle_timeout": 3,
        "api": 1,
        "expired_48h": 1,
        "queue_timeout": 1,
    },
    "transferred_between_servicers": 2,  # C alice → bob in the WeCom app, M carol → alice in Kefu
    "taken_unanswered": 0,  # B, C, D, N, J, A3, F, M, G: a servicer wrote in each (H is 12-02's)
    # D 120 s, J 120 s and N 180 s taken, E 600 s not taken: the 2nd, and the ⌈3.6⌉ = 4th.
    "waiting": {"count": 4, "median_s": 120, "p90_s": 600},
    "waited_taken": 3,
    "waited_abandoned": 1,
    "wait_buckets": {"<30s": 0, "30s-1m": 0, "1-2m": 0, "2-5m": 3, "5-10m": 0, ">=10m": 1},
    # F 5, J 20, C 30, N 30, M 40, B 45, D 70, A3 120, G 630: the 5th, and the ⌈8.1⌉ = 9th.
    "first_response": {"count": 9, "median_s": 40, "p90_s": 630},
    "satisfaction": {
        "rated": 5,
        "average": 64.0,
        "distribution": {"0": 1, "60": 2, "100": 2},
        "labels": {"0": "不满意", "60": "一般", "100": "满意"},  # 青禾's words: 60 is 一般 here
        # The endings of the sessions a servicer held carried the survey: B, C, D, N, J, A3, M, G
        # (not the AI's B2, A2, K, nor E's queue timeout message; F's 48 h end has no ending):
        # 8 surveys, rated in B, C, D, M, G.
        "surveyed": 8,
        "participation_rate": 0.625,
    },
    "servicers": [
        {
            # received B, C, N, A3, G (replies 45, 30, 30, 120, 630); ended B, N, A3, M, G
            "userid": "alice",
            "received": 5,
            "ended": 5,
            "median_first_response_s": 45,
            "rated": 3,  # B 60, G 100, M 60
            "average_rating": 73.33,
            "over_cap": 1,  # her take of N by hand, holding C
            "transferred_in": 1,  # M, from carol
            "transferred_out": 1,  # C, to bob
            "unanswered": 1,  # M: she ended it without a word
        },
        {
            "userid": "bob",  # received D, F, J; ended C, D, F, J; replies 70, 5, 20
            "received": 3,
            "ended": 4,
            "median_first_response_s": 20,
            "rated": 2,  # C 100, D 0
            "average_rating": 50.0,
            "over_cap": 1,  # alice's transfer of C gave him a second session
            "transferred_in": 1,  # C, from alice
            "transferred_out": 0,
            "unanswered": 1,  # C: he ended it without a word
        },
        {
            "userid": "carol",  # received M, replied after 40 s, handed it to alice
            "received": 1,
            "ended": 0,
            "median_first_response_s": 40,
            "rated": 0,
            "average_rating": None,
            "over_cap": 0,
            "transferred_in": 0,
            "transferred_out": 1,  # M, to alice
            "unanswered": 0,
        },
    ],
    "per_day": [{"day": "2026-12-01", "sessions": 13}],
    "per_hour": [1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2],
}


def differences(found: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Figure → (reported, expected), for each figure the report gets wrong."""
    return {key: (found[key], value) for key, value in expected.items() if found[key] != value}


async def summary(day: AuditDay, first: str, last: str, account: str | None = "qinghe") -> dict[str, Any]:
    params: dict[str, Any] = {"from": first, "to": last}
    if account is not None:
        params["account_id"] = getattr(day, account).account.id
    async with api_client(day.qinghe.rt) as api:
        answer = await api.get("/api/v1/reports/summary", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_day_figure_by_figure(make_world: WorldFactory) -> None:
    day = await play_audit_day(make_world)
    found = await summary(day, "2026-12-01", "2026-12-01")
    wrong = differences(found, DEC_1)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert found["account_id"] == day.qinghe.account.id


def nothing_waited() -> dict[str, Any]:
    return {
        "waiting": {"count": 0, "median_s": None, "p90_s": None},
        "waited_taken": 0,
        "waited_abandoned": 0,
        "wait_buckets": {"<30s": 0, "30s-1m": 0, "1-2m": 0, "2-5m": 0, "5-10m": 0, ">=10m": 0},
    }


def unrated(*, surveyed: int) -> dict[str, Any]:
    """No rating: a participation rate of 0 when a survey went out, none when none did."""
    return {
        "rated": 0,
        "average": None,
        "distribution": {},
        "labels": {},
        "surveyed": surveyed,
        "participation_rate": 0.0 if surveyed else None,
    }


def hours(**counts: int) -> list[int]:
    """24 counts from e.g. h7=1."""
    return [counts.get(f"h{hour}", 0) for hour in range(24)]


async def test_days_around_local_midnight_accounts_and_empty_ranges(make_world: WorldFactory) -> None:
    day = await play_audit_day(make_world)
    # 11-30 in Shanghai ends at 16:00 UTC: A1 (15:59 UTC) only, not B (16:10 UTC, 12-01 00:10).
    nov_30 = await summary(day, "2026-11-30", "2026-11-30")
    assert not differences(
        nov_30,
        {
            "sessions_started": 1,
            "sessions_ended": 1,
            "ai_only_resolved": 1,
            "ai_only_rate": 1.0,
            "transferred": 0,
            "transfer_rate": 0.0,
            "transfer_reasons": {},
            "end_reasons": {"ai_idle_timeout": 1},
            **nothing_waited(),
            "first_response": {"count": 0, "median_s": None, "p90_s": None},
            "satisfaction": unrated(surveyed=0),  # A1's idle end: the ending alone, no servicer to rate
            "servicers": [],
            "per_day": [{"day": "2026-11-30", "sessions": 1}],
            "per_hour": hours(h23=1),
        },
    )
    # 12-02: H only (12-01 23:30 UTC); G's rating click at 00:20 is no session; alice never wrote.
    dec_2 = await summary(day, "2026-12-02", "2026-12-02")
    assert not differences(
        dec_2,
        {
            "sessions_started": 1,
            "sessions_ended": 1,
            "ai_only_resolved": 0,
            "ai_only_rate": 0.0,
            "transferred": 1,
            "transfer_rate": 1.0,
            "transfer_reasons": {"opening_reached": 1},
            "end_reasons": {"servicer": 1},
            "transferred_between_servicers": 0,
            "taken_unanswered": 1,  # alice took H and ended it without a word
            **nothing_waited(),
            "first_response": {"count": 0, "median_s": None, "p90_s": None},
            "satisfaction": unrated(surveyed=1),  # alice's end carried the survey; H did not rate
            "servicers": [
                {
                    "userid": "alice",
                    "received": 1,
                    "ended": 1,
                    "median_first_response_s": None,
                    "rated": 0,
                    "average_rating": None,
                    "over_cap": 0,
                    "transferred_in": 0,
                    "transferred_out": 0,
                    "unanswered": 1,
                }
            ],
            "per_hour": hours(h7=1),
        },
    )
    three_days = await summary(day, "2026-11-30", "2026-12-02")
    assert [d["sessions"] for d in three_days["per_day"]] == [1, 13, 1]
    assert (three_days["sessions_started"], three_days["transferred"], three_days["ai_only_resolved"]) == (
        15,
        11,
        4,
    )
    # All accounts on 12-01: 青禾's 13 and 松果's P1 (AI only) and P3 (dora).
    everyone = await summary(day, "2026-12-01", "2026-12-01", account=None)
    assert not differences(
        everyone,
        {
            "account_id": None,
            "sessions_started": 15,
            "ai_only_resolved": 4,
            "ai_only_rate": 0.2667,
            "transferred": 11,
            "transfer_rate": 0.7333,
            # 松果's P1 by the AI idle timeout, P3 by dora, who never wrote in it
            "end_reasons": {
                "servicer": 8,
                "ai_idle_timeout": 4,
                "api": 1,
                "expired_48h": 1,
                "queue_timeout": 1,
            },
            "taken_unanswered": 1,
            "per_hour": hours(h0=1, h9=4, h10=2, h11=1, h12=1, h13=1, h14=1, h15=1, h16=1, h23=2),
        },
    )
    songguo_dec_1 = await summary(day, "2026-12-01", "2026-12-01", account="songguo")
    assert songguo_dec_1["sessions_started"] == 2
    assert songguo_dec_1["satisfaction"]["labels"] == {"60": "还行"}
    assert [(s["userid"], s["unanswered"]) for s in songguo_dec_1["servicers"]] == [("dora", 1)]
    everyone_rated = everyone["satisfaction"]
    assert (everyone_rated["distribution"], everyone_rated["labels"]) == (
        {"0": 1, "60": 3, "100": 2},
        {"0": "不满意", "60": "一般/还行", "100": "满意"},  # two accounts' words for 60
    )
    # 青禾's 8 surveys and 5 ratings, 松果's P3 (dora's) surveyed and rated: 6 of 9.
    assert (everyone_rated["surveyed"], everyone_rated["participation_rate"]) == (9, 0.6667)
    # 12-03 at 松果: only an off-hours request, which no human could take. The customer asked for
    # a human and got none: not a session the AI resolved on its own.
    off_hours = await summary(day, "2026-12-03", "2026-12-03", account="songguo")
    assert not differences(
        off_hours,
        {
            "sessions_started": 1,
            "sessions_ended": 1,
            "ai_only_resolved": 0,
            "ai_only_rate": 0.0,
            "asked_human_not_transferred": 1,
            "transferred": 0,
            "transfer_rate": 0.0,
            "transfer_reasons": {},
            "end_reasons": {"ai_idle_timeout": 1},  # the AI went on; its idle end came at 20:05
            **nothing_waited(),
            "servicers": [],
            "per_hour": hours(h20=1),
        },
    )
    empty = await summary(day, "2026-12-10", "2026-12-12", account=None)
    assert not differences(
        empty,
        {
            "sessions_started": 0,
            "sessions_ended": 0,
            "ai_only_resolved": 0,
            "ai_only_rate": None,  # nothing ended: no rate, not 0 %
            "asked_human_not_transferred": 0,
            "transferred": 0,
            "transfer_rate": None,
            "transfer_reasons": {},
            "end_reasons": {},
            "transferred_between_servicers": 0,
            "taken_unanswered": 0,
            **nothing_waited(),
            "first_response": {"count": 0, "median_s": None, "p90_s": None},
            "satisfaction": unrated(surveyed=0),
            "servicers": [],
            "per_day": [{"day": f"2026-12-{n}", "sessions": 0} for n in (10, 11, 12)],
            "per_hour": hours(),
        },
    )


def kpi(html: str, card: str) -> tuple[str, str]:
    """A KPI card's value and the small print under it."""
    found = re.search(
        rf'id="kpi-{card}".*?class="kpi-value">([^<]*)</div>\s*<div class="muted">(.*?)</div>', html, re.S
    )
    assert found, card
    return found.group(1).strip(), found.group(2).strip()


def servicer_rows(html: str) -> list[list[str]]:
    table = html[html.index('id="servicer-load"') :]
    table = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def bars(html: str) -> list[str]:
    return [html_text.unescape(title) for title in re.findall(r"<g><title>([^<]*)</title>", html)]


async def test_the_console_page_and_its_downloads_show_the_same_day(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    day = await play_audit_day(make_world)
    supervisor = await signed_in("supervisor")
    query = f"from=2026-12-01&to=2026-12-01&account_id={day.qinghe.account.id}"
    page = (await supervisor.get(f"/console/reports?{query}")).text
    assert "2026-12-01 至 2026-12-01（Asia/Shanghai）" in page
    assert kpi(page, "sessions") == ("13", "已结束 13")
    assert kpi(page, "ai-only") == ("23.1%", "AI 独立解决 3 个")
    assert kpi(page, "transfer") == ("76.9%", "转人工 10 个 · 要求人工未转接 0 个")
    assert kpi(page, "wait") == ("2 分 0 秒", "P90 10 分 0 秒 · 未接入 1")
    assert kpi(page, "first-response") == ("40 秒", "P90 10 分 30 秒 · 接入未回复 0 个")
    assert kpi(page, "satisfaction")[0] == "64.0"
    assert (
        "评价 5 次 · 参评率 62.5%（邀评 8 次） · 不满意（0 分）: 1 · 一般（60 分）: 2 · 满意（100 分）: 2"
        in kpi(page, "satisfaction")[1]
    )
    assert kpi(page, "between")[0] == "2"
    ends = page[page.index('id="end-reasons"') :]
    for end in (
        "客服在企业微信中结束: <strong>7</strong>",
        "AI 会话超时结束: <strong>3</strong>",
        "排队超时: <strong>1</strong>",
        "通过 API 结束: <strong>1</strong>",
        "会话满 48 小时: <strong>1</strong>",
    ):
        assert end in ends
    for reason in ("关键词: <strong>7</strong>", "转人工按钮: <strong>1</strong>"):
        assert reason in page
    assert (
        "AI 连续不确定后点按钮: <strong>1</strong>" in page
        and "非工作时间留待上班: <strong>1</strong>" in page
    )
    assert "<th>首次接入</th><th>结束会话</th>" in page  # bob ended more than he was first to get
    # received, ended, passed in, passed on, never answered, first response, ratings, average, over cap
    assert servicer_rows(page) == [
        ["alice", "5", "5", "1", "1", "1", "45 秒", "3", "73.33", "1"],
        ["bob", "3", "4", "1", "0", "1", "20 秒", "2", "50.0", "1"],
        ["carol", "1", "0", "0", "1", "0", "40 秒", "0", "—", "0"],
    ]
    charted = bars(page)
    assert "12-01: 13" in charted  # sessions per day
    assert ["2-5m: 3", ">=10m: 1"] == [b for b in charted if b.startswith(("2-5m", ">=10m"))]
    assert [b for b in charted if re.match(r"\d\d: [1-9]", b)] == [
        "00: 1",
        "09: 4",
        "10: 2",
        "11: 1",
        "14: 1",
        "15: 1",
        "16: 1",
        "23: 2",
    ]

    answer = await supervisor.get(f"/console/reports/export.csv?{query}")
    assert answer.content.startswith("\ufeff".encode())  # Excel reads the UTF-8
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert table[0] == ["section", "item", "value", "说明"]  # what each row is, in Chinese
    for row in (
        ["sessions", "ai_only_rate", "0.2308", "AI 独立解决率"],
        ["sessions", "asked_human_not_transferred", "0", "要求人工未转接会话数"],
        ["transfer_reason", "keyword", "7", "转人工原因：关键词"],
        ["waiting", "p90_s", "600", "排队时长 P90（秒）"],
        ["rating_score", "60", "2", "评价数：一般（60 分）"],
        ["hour", "23", "2", "各时段会话数：23:00"],
        ["servicer:alice", "received", "5", "alice：首次接入"],
        ["sessions", "transferred_between_servicers", "2", "客服间转接会话数"],
        ["sessions", "taken_unanswered", "0", "接入未回复会话数"],
        ["end_reason", "servicer", "7", "会话结束方式：客服在企业微信中结束"],
        ["end_reason", "expired_48h", "1", "会话结束方式：会话满 48 小时"],
        ["satisfaction", "surveyed", "8", "邀评数（评价已发出的会话）"],
        ["satisfaction", "participation_rate", "0.625", "参评率"],
        ["servicer:bob", "unanswered", "1", "bob：接入未回复"],
        ["servicer:carol", "transferred_out", "1", "carol：转出"],
    ):
        assert row in table
    assert all(label for *_, label in table)  # every row says what it is
    rows = {(s, i): v for s, i, v, _ in table[1:]}
    assert {
        key: rows[key]
        for key in (
            ("sessions", "started"),
            ("sessions", "ai_only_rate"),
            ("sessions", "transfer_rate"),
            ("sessions", "asked_human_not_transferred"),
            ("waiting", "median_s"),
            ("waiting", "abandoned"),
            ("first_response", "p90_s"),
            ("satisfaction", "average"),
            ("servicer:bob", "median_first_response_s"),
            ("servicer:bob", "over_cap"),
            ("day", "2026-12-01"),
            ("hour", "23"),
        )
    } == {
        ("sessions", "started"): "13",
        ("sessions", "ai_only_rate"): "0.2308",
        ("sessions", "transfer_rate"): "0.7692",
        ("sessions", "asked_human_not_transferred"): "0",
        ("waiting", "median_s"): "120",
        ("waiting", "abandoned"): "1",
        ("first_response", "p90_s"): "630",
        ("satisfaction", "average"): "64.0",
        ("servicer:bob", "median_first_response_s"): "20",
        ("servicer:bob", "over_cap"): "1",
        ("day", "2026-12-01"): "13",
        ("hour", "23"): "2",
    }

    off_hours = f"from=2026-12-03&to=2026-12-03&account_id={day.songguo.account.id}"
    only_asked = (await supervisor.get(f"/console/reports?{off_hours}")).text
    assert kpi(only_asked, "ai-only") == ("0.0%", "AI 独立解决 0 个")
    assert kpi(only_asked, "transfer") == ("0.0%", "转人工 0 个 · 要求人工未转接 1 个")
    supervisor.cookies.set("kefu_lang", "en")
    english = (await supervisor.get(f"/console/reports?{query}")).text
    assert kpi(english, "ai-only") == ("23.1%", "3 resolved by the AI alone")
    assert "<th>First assigned</th><th>Ended</th>" in english
    english_csv = (await supervisor.get(f"/console/reports/export.csv?{query}")).content.decode("utf-8-sig")
    assert english_csv.splitlines()[0] == "section,item,value,Label"
    assert "sessions,transfer_rate,0.7692,Transfer rate" in english_csv.splitlines()
    async with api_client(day.qinghe.rt) as api:  # the API's CSV: three machine-readable columns
        api_csv = await api.get(
            "/api/v1/reports/export.csv", params={"from": "2026-12-01", "to": "2026-12-01"}
        )
    assert api_csv.text.lstrip("\ufeff").splitlines()[0] == "section,item,value"
    assert kpi(english, "transfer") == ("76.9%", "10 transferred · 0 asked for a human, not transferred")
    assert kpi(english, "wait") == ("2 min 0 s", "p90 10 min 0 s · 1 not taken")
    assert "participation 62.5% (8 surveyed)" in kpi(english, "satisfaction")[1]
    assert "Ended by the servicer in the WeCom app: <strong>7</strong>" in english

    supervisor.cookies.set("kefu_lang", "zh")
    workbook = sheet_rows((await supervisor.get(f"/console/reports/export.xlsx?{query}")).content)
    assert workbook["客服工作量"][1:] == [
        ["alice", 5, 5, 1, 1, 1, 45, 3, 73.33, 1],
        ["bob", 3, 4, 1, 0, 1, 20, 2, 50, 1],
        ["carol", 1, 0, 0, 1, 0, 40, 0, None, 0],
    ]
    assert [[day.date().isoformat(), n] for day, n in workbook["每日会话数"][1:]] == [["2026-12-01", 13]]
    in_summary = {(section, item): value for section, item, value, _ in workbook["汇总"][1:]}
    assert (
        in_summary[("end_reason", "ai_idle_timeout")],
        in_summary[("sessions", "transferred_between_servicers")],
        in_summary[("satisfaction", "participation_rate")],
    ) == (3, 2, 0.625)
    empty = (await supervisor.get("/console/reports?from=2026-12-10&to=2026-12-12")).text
    assert kpi(empty, "ai-only")[0] == "—" and kpi(empty, "wait")[0] == "—"
    assert kpi(empty, "satisfaction")[0] == "—"
    servicer = await signed_in("servicer")  # colleagues' loads and ratings are for supervisors
    assert (await servicer.get(f"/console/reports?{query}")).status_code == 403
    assert (await servicer.get(f"/console/reports/export.csv?{query}")).status_code == 403
