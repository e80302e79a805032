"""知识库 page: entries added, edited, disabled and deleted (a bad value shown beside its field,
nothing saved), a file imported with a bad row reported and the good ones kept, 试一试 answering
with the entry just saved (no restart), and every change in the audit log."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook

from kefu.accounts.knowledge_base import list_entries
from kefu.audit.log import list_events
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import make_account, make_connection

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _account_id(rt: Runtime) -> int:
    connection, _ = await make_connection(rt)
    return (await make_account(rt, connection)).id


async def test_supervisor_adds_edits_and_asks_an_entry(rt: Runtime, signed_in: SignIn) -> None:
    account_id = await _account_id(rt)
    supervisor = await signed_in("supervisor")
    page = await supervisor.get("/console/knowledge")
    assert page.status_code == 200 and "试一试" in page.text and "还没有问答" in page.text
    csrf = csrf_of(page)
    url = f"/console/knowledge/{account_id}/entry"
    bad = await supervisor.post(
        url, data={"csrf_token": csrf, "id": "w1", "question": "保修多久", "answer": ""}
    )
    assert bad.status_code == 422 and "field-error" in bad.text
    assert re.search(r'class="field-error">答案.*?<div class="error-text">答案为空</div>', bad.text, re.S)
    assert 'value="保修多久"' in bad.text
    async with rt.db.read() as session:
        assert await list_entries(session, account_id) == []
    made = await supervisor.post(
        url,
        data={
            "csrf_token": csrf,
            "id": "w1",
            "question": "保修多久",
            "alt": "保修期是多长\n质保几年",
            "answer": "整机保修三年。",
            "tags": "售后, 保修",
            "enabled": "1",
        },
    )
    assert made.status_code == 303
    listed = await supervisor.get(made.headers["location"])
    assert "w1" in listed.text and "整机保修三年" in listed.text
    asked = await supervisor.post(
        f"/console/knowledge/{account_id}/ask",
        data={"csrf_token": csrf, "question": "质保几年"},
        headers={"HX-Request": "true"},
    )
    assert asked.status_code == 200 and "整机保修三年" in asked.text and "w1" in asked.text
    edited = await supervisor.post(
        url,
        data={
            "csrf_token": csrf,
            "editing": "w1",
            "question": "保修多久",
            "answer": "整机保修五年。",
            "enabled": "1",
        },
    )
    assert edited.status_code == 303
    again = await supervisor.post(
        f"/console/knowledge/{account_id}/ask", data={"csrf_token": csrf, "question": "保修多久"}
    )
    assert "整机保修五年" in again.text  # the index followed the edit, no restart
    duplicate = await supervisor.post(
        url, data={"csrf_token": csrf, "id": "w1", "question": "别的", "answer": "别的", "enabled": "1"}
    )
    assert duplicate.status_code == 422 and "编号“w1”已被本账号的另一条问答使用" in duplicate.text
    await supervisor.post(f"/console/knowledge/{account_id}/enabled", data={"csrf_token": csrf, "id": "w1"})
    async with rt.db.read() as session:
        [entry] = await list_entries(session, account_id)
        assert not entry.enabled and entry.answer == "整机保修五年。" and entry.alt_questions == []
        events, total = await list_events(session)
    assert total == 3 and {e.action for e in events} == {"knowledge.create", "knowledge.update"}
    assert all(e.actor == "console:supervisor0" for e in events)
    assert events[0].changes == {"enabled": [True, False]}
    await supervisor.post(f"/console/knowledge/{account_id}/delete", data={"csrf_token": csrf, "id": "w1"})
    async with rt.db.read() as session:
        assert await list_entries(session, account_id) == []
        events, _ = await list_events(session)
    assert events[0].action == "knowledge.delete"


async def test_an_import_keeps_good_rows_and_reports_the_bad_one(rt: Runtime, signed_in: SignIn) -> None:
    account_id = await _account_id(rt)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/knowledge"))
    content = "id,question,answer\nk1,怎么退货,七天无理由退货。\nk2,,没有问题的答案\nk3,几点上班,九点。\n"
    posted = await admin.post(
        f"/console/knowledge/{account_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("kb.csv", content.encode(), "text/csv")},
    )
    assert posted.status_code == 303  # Post/Redirect/Get: a reload does not import again
    answer = await admin.get(posted.headers["location"])
    assert "新增 2 条" in answer.text and "第 3 行：标准问题为空（该行已跳过）" in answer.text
    async with rt.db.read() as session:
        assert [e.id for e in await list_entries(session, account_id)] == ["k1", "k3"]
    exported = await admin.get(f"/console/knowledge/{account_id}/export")
    assert exported.status_code == 200 and "k3,几点上班,九点。" in exported.text
    assert exported.content.startswith(b"\xef\xbb\xbfid,question")  # a BOM: Excel reads the Chinese
    searched = await admin.get(f"/console/knowledge?account={account_id}&q=退货")
    assert "k1" in searched.text and "几点上班" not in searched.text

    # Disabling or deleting from a search comes back to that search, saying what was done.
    for action, fields, words in (
        ("enabled", {"enabled": "0"}, "已停用问答 k1"),
        ("delete", {}, "已删除问答 k1"),
    ):
        done = await admin.post(
            f"/console/knowledge/{account_id}/{action}",
            data={"csrf_token": csrf, "id": "k1", "q": "退货", "page": "1", **fields},
        )
        assert done.status_code == 303
        back = await admin.get(done.headers["location"])
        assert words in back.text and 'name="q" value="退货"' in back.text and "几点上班" not in back.text
    unreadable = await admin.post(
        f"/console/knowledge/{account_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("kb.csv", b"foo,bar\n1,2\n", "text/csv")},
    )
    assert unreadable.status_code == 422
    header = "第一行应是表头 id,question,answer[,alt_questions,tags,enabled]（也可用中文列名）"
    assert f"{header}：未知的列 foo, bar；缺少列 id, question, answer" in unreadable.text


async def test_an_imports_refusals_are_in_the_readers_language(rt: Runtime, signed_in: SignIn) -> None:
    account_id = await _account_id(rt)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/knowledge"))
    workbook = Workbook()
    sheet = workbook.active
    for row in (
        ["编号", "问题", "答案", "标签", "启用"],
        ["k1", "怎么退货", "七天无理由退货。", "售后", "是"],
        ["k2", "保修多久", "", "", ""],
        ["k1", "又是k1", "重复的编号", "", ""],
        ["k3", "几点上班", "九点。", "标" * 40, ""],
        ["k4", "周末上班吗", "上。", "", "也许"],
    ):
        sheet.append(row)
    data = io.BytesIO()
    workbook.save(data)

    async def imported(lang: str) -> str:
        admin.cookies.set("kefu_lang", lang)
        posted = await admin.post(
            f"/console/knowledge/{account_id}/import",
            data={"csrf_token": csrf},
            files={"file": ("kb.xlsx", data.getvalue(), XLSX)},
        )
        assert posted.status_code == 303
        answer = await admin.get(posted.headers["location"])
        return " ".join(re.findall(r"<li>(.*?)</li>", answer.text))

    chinese = await imported("zh")
    for words in (
        "第 3 行：答案为空（该行已跳过）",
        "第 4 行：编号“k1”重复（第一次出现在第 2 行）（该行已跳过）",
        f"第 5 行：标签“{'标' * 10}…”超过 32 个字符（该行已跳过）",
        "第 6 行：启用列的值“也许”无法识别：填 true 或 false（留空表示启用）（该行已跳过）",
    ):
        assert words in chinese, chinese
    assert not re.search(r"[A-Za-z]{3}", chinese.replace("true", "").replace("false", "")), chinese
    english = await imported("en")
    assert "Line 3: answer is empty (row skipped)" in english
    assert "Line 4: duplicate id “k1” (first on line 2) (row skipped)" in english
    admin.cookies.set("kefu_lang", "zh")
    broken = await admin.post(
        f"/console/knowledge/{account_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("kb.xlsx", b"PK\x03\x04 not a workbook", XLSX)},
    )
    assert broken.status_code == 422 and "无法读取这个 Excel（XLSX）文件" in broken.text


async def test_an_imports_result_survives_a_reload_that_imports_nothing_again(
    rt: Runtime, signed_in: SignIn
) -> None:
    """The import answered its POST with the result page itself, so a reload (F5) posted the
    file again: now it redirects, and the page it redirects to shows the result — every bad row
    by its line — as often as it is loaded, to the session that imported only."""
    account_id = await _account_id(rt)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/knowledge"))
    rows = [f"k{n},问题{n},答案{n}。" if n % 3 else f"k{n},问题{n}," for n in range(1, 31)]
    content = "id,question,answer\n" + "\n".join(rows) + "\n"
    posted = await admin.post(
        f"/console/knowledge/{account_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("kb.csv", content.encode(), "text/csv")},
    )
    assert posted.status_code == 303
    result_page = posted.headers["location"]
    assert result_page.startswith(f"/console/knowledge?account={account_id}&imported=")
    async with rt.db.read() as session:
        _, audited_once = await list_events(session, actor="console:admin0")
    for _ in range(2):  # the redirect, then a reload
        page = await admin.get(result_page)
        assert page.status_code == 200 and "新增 20 条" in page.text
        bad_lines = re.findall(r"<li>第 (\d+) 行：答案为空（该行已跳过）</li>", page.text)
        assert bad_lines == [str(n + 1) for n in range(3, 31, 3)]  # the header is line 1
    async with rt.db.read() as session:
        assert len(await list_entries(session, account_id)) == 20
        assert (await list_events(session, actor="console:admin0"))[1] == audited_once == 20
    other_admin = await signed_in("admin")
    assert "新增 20 条" not in (await other_admin.get(result_page)).text  # not another session's


async def test_servicers_cannot_open_the_knowledge_base(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    assert (await servicer.get("/console/knowledge")).status_code == 403


async def test_try_it_shows_a_small_talk_reply_as_such(rt: Runtime, signed_in: SignIn) -> None:
    account_id = await _account_id(rt)
    supervisor = await signed_in("supervisor")
    csrf = csrf_of(await supervisor.get("/console/knowledge"))
    url = f"/console/knowledge/{account_id}/ask"
    greeting = await supervisor.post(url, data={"csrf_token": csrf, "question": "你好"})
    assert "寒暄：问候" in greeting.text and "您好，请问有什么可以帮您？" in greeting.text
    assert "不确定" not in greeting.text
    acknowledged = await supervisor.post(url, data={"csrf_token": csrf, "question": "好的"})
    assert (
        "寒暄：应答" in acknowledged.text and "（不回复：AI 设置中这类寒暄的回复为空）" in acknowledged.text
    )
