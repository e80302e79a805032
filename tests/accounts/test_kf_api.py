"""/api/v1/accounts through the real ASGI app, and `kefu accounts` / `kefu kb` on the command line:
create, update, settings with versions, servicers, the contact link and its QR code (PNG, SVG)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as SafeXml
import httpx
import pytest
from sqlalchemy import select

from kefu.accounts import kf_accounts
from kefu.accounts.contact import create_link, link_for, qr_code
from kefu.audit.models import AuditEvent
from kefu.errors import Conflict
from kefu.runtime import Runtime
from tests.accounts.fixtures import ACliFn
from tests.accounts.kf_fixtures import KfWorld, png, read_png
from tests.factories import api_client, make_account, make_connection

pytestmark = pytest.mark.db


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt, token_name="console-alice") as client:
        yield client


async def test_create_update_and_settings_with_versions(api: httpx.AsyncClient, kf: KfWorld) -> None:
    image = png(40, 40, (5, 6, 7))
    created = await api.post(
        "/api/v1/accounts",
        json={
            "connection_id": kf.connection.id,
            "name": "接口建的",
            "avatar_base64": base64.b64encode(image).decode(),
            "settings": {"reception": {"mode": "human_only"}},
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert kf.avatar_bytes(account["open_kfid"]) == image and account["settings_version"] == 1

    patched = await api.patch(f"/api/v1/accounts/{account['id']}", json={"name": "改过名", "enabled": False})
    assert patched.json()["name"] == "改过名" and patched.json()["enabled"] is False
    assert kf.account(account["open_kfid"])["name"] == "改过名"

    # 2026-11-25: the holiday library knows 2026 only, so the admin is warned before 2027 comes.
    warnings = (await api.get(f"/api/v1/accounts/{account['id']}/warnings")).json()["warnings"]
    assert len(warnings) == 1 and "2027" in warnings[0]

    url = f"/api/v1/accounts/{account['id']}/settings"
    settings = (await api.get(url)).json()
    assert settings["reception"]["mode"] == "human_only" and settings["timezone"] == "Asia/Shanghai"
    settings["queue"]["default_max_sessions"] = 3
    assert (await api.put(url, json=settings)).json()["queue"]["default_max_sessions"] == 3
    assert (await api.put(url, json=settings)).status_code == 200  # the same again: no new version
    bad = await api.put(url, json={"hours": {"weekly": {"mon": ["18:00-09:00"]}}})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_settings"
    assert "hours.weekly.mon[0]: 18:00-09:00: the end is before the start" in bad.json()["message"]

    versions = (await api.get(f"{url}/versions")).json()
    assert [(v["version"], v["changed_by"], v["source"]) for v in versions] == [
        (2, "console-alice", "api"),
        (1, "console-alice", "api"),
    ]
    assert versions[0]["data"]["queue"]["default_max_sessions"] == 3
    assert (await api.get("/api/v1/accounts/999")).status_code == 404


async def test_a_wecom_refusal_is_a_502_in_words_and_changes_nothing(
    api: httpx.AsyncClient, kf: KfWorld
) -> None:
    kf.simulator.control(
        "POST", "faults", json={"endpoint": "kf/account/add", "errcodes": [95027], "count": 1}
    )

    refused = await api.post("/api/v1/accounts", json={"connection_id": kf.connection.id, "name": "第十一个"})

    assert refused.status_code == 502 and refused.json()["error"] == "wecom_error"
    message = refused.json()["message"]
    assert message.startswith("creating the account '第十一个' in WeCom: WeCom kf/account/add errcode 95027")
    assert (
        "An unverified corp may create only 10 kf accounts" in message
        and "nothing was changed in Kefu" in message
    )
    assert "第十一个" not in [a["name"] for a in (await api.get("/api/v1/accounts")).json()]


async def test_servicers_and_adopt_over_the_api(api: httpx.AsyncClient, kf: KfWorld) -> None:
    adopted = await api.post(
        "/api/v1/accounts", json={"connection_id": kf.connection.id, "open_kfid": kf.corp.open_kfids[1]}
    )
    assert adopted.status_code == 201 and adopted.json()["name"] == "售前"
    account_id = adopted.json()["id"]

    put = await api.put(
        f"/api/v1/accounts/{account_id}/servicers",
        json={"servicers": [{"userid": "zhangsan", "max_sessions": 4}, {"userid": "ghost"}]},
    )
    body = put.json()
    assert [(s["userid"], s["in_wecom"], s["receiving"]) for s in body["servicers"]] == [
        ("zhangsan", True, True),
        ("ghost", False, False),
    ]
    assert "60111" in body["problems"]["ghost"]
    refreshed = await api.post(f"/api/v1/accounts/{account_id}/servicers/refresh")
    assert [s["userid"] for s in refreshed.json()["servicers"]] == ["zhangsan", "ghost"]


async def test_servicers_carry_the_names_the_admin_gives(
    rt: Runtime, api: httpx.AsyncClient, kf: KfWorld
) -> None:
    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="起名")
    url = f"/api/v1/accounts/{account.id}/servicers"

    put = await api.put(
        url,
        json={"servicers": [{"userid": "zhangsan", "max_sessions": 2, "name": "张三"}, {"userid": "lisi"}]},
    )
    assert put.status_code == 200, put.text
    assert [(s["userid"], s["max_sessions"], s["name"]) for s in put.json()["servicers"]] == [
        ("zhangsan", 2, "张三"),
        ("lisi", None, None),
    ]
    # Only the names change: the whole list again, as for a cap; a name left out is none.
    renamed = await api.put(
        url,
        json={"servicers": [{"userid": "zhangsan", "max_sessions": 2}, {"userid": "lisi", "name": "李四"}]},
    )
    assert [(s["userid"], s["name"]) for s in renamed.json()["servicers"]] == [
        ("zhangsan", None),
        ("lisi", "李四"),
    ]
    assert [(s["userid"], s["name"]) for s in (await api.get(url)).json()["servicers"]] == [
        ("zhangsan", None),
        ("lisi", "李四"),
    ]
    shown = (await api.get(f"/api/v1/accounts/{account.id}")).json()
    assert [s["name"] for s in shown["servicers"]] == [None, "李四"]
    for bad in (" ", "名" * 65):
        refused = await api.put(url, json={"servicers": [{"userid": "lisi", "name": bad}]})
        assert refused.status_code == 422, bad
    # A cap past its bound: past the INTEGER column's range it was a server error.
    for cap in (1001, 2**63):
        refused = await api.put(url, json={"servicers": [{"userid": "lisi", "max_sessions": cap}]})
        assert refused.status_code == 422 and "max_sessions" in refused.json()["message"], cap
    assert [s["name"] for s in (await api.get(url)).json()["servicers"]] == [None, "李四"]
    async with rt.db.read() as session:
        audited = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "account.servicers.update")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert audited[1].changes["servicers.lisi.name"] == [None, "李四"]
    assert audited[1].changes["servicers.zhangsan.name"] == ["张三", None]


async def test_link_and_qr_codes_and_a_disabled_account_offers_none(
    rt: Runtime, api: httpx.AsyncClient, kf: KfWorld
) -> None:
    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="二维码")

    qr = await api.get(f"/api/v1/accounts/{account.id}/qr.png")  # the first request makes a link
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    width, height, _colour = read_png(qr.content)
    assert width == height and width >= 200
    svg = await api.get(f"/api/v1/accounts/{account.id}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = SafeXml.fromstring(svg.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and int(root.get("width")) == width

    made = await api.post(f"/api/v1/accounts/{account.id}/link", json={"scene": "poster_2026"})
    link = made.json()
    assert link["scene"] == "poster_2026" and link["url"].startswith("https://work.weixin.qq.com/kf/")
    assert "poster_2026" in kf.account(account.open_kfid)["contact_ways"].values()
    assert (await api.get(f"/api/v1/accounts/{account.id}/link")).json() == link

    await kf_accounts.set_enabled(rt, account.id, False)
    for path in ("qr.png", "qr.svg", "link"):
        refused = await api.get(f"/api/v1/accounts/{account.id}/{path}")
        assert refused.status_code == 409
        assert "is disabled, so its contact link is not offered" in refused.json()["message"]
    assert (await api.get(f"/api/v1/accounts/{account.id}")).json()["contact_url"] is None
    with pytest.raises(Conflict):
        await create_link(rt, account.id)
    await kf_accounts.set_enabled(rt, account.id, True)
    assert await link_for(rt, account.id) == link["url"]
    assert qr_code(link["url"], "png") == qr_code(link["url"], "png")  # the same link, the same image


async def test_accounts_and_kb_on_the_command_line(
    rt: Runtime, kf: KfWorld, acli: ACliFn, tmp_path: Path
) -> None:
    avatar = tmp_path / "a.png"
    avatar.write_bytes(png(16, 16))
    made = await acli(
        "accounts", "create", "--connection", "qinghe", "--name", "命令行", "--avatar", str(avatar)
    )
    assert made.exit_code == 0, made.output
    account_id = made.stdout.split()[0]
    assert "命令行  enabled" in made.stdout
    renamed = await acli("accounts", "update", account_id, "--name", "命令行改名")
    assert renamed.exit_code == 0 and kf.account(renamed.stdout.split()[1])["name"] == "命令行改名"
    listed = await acli("accounts", "list", "--connection", "qinghe")
    assert [line.split()[2] for line in listed.stdout.splitlines() if not line.startswith(" ")] == [
        "售后",
        "售前",
        "命令行改名",
    ]

    servicers = await acli("accounts", "servicers", account_id, "--add", "zhangsan:3", "--add", "ghost")
    assert servicers.exit_code == 1  # ghost was refused; zhangsan was added
    assert "zhangsan  接待中  max 3" in servicers.stdout and "ghost" in servicers.stdout
    named = await acli(
        "accounts", "servicers", account_id, "--add", "lisi::李四", "--add", "zhangsan:3:张 三"
    )
    assert "0  zhangsan  张 三  接待中  max 3" in named.stdout  # kept its place, named
    assert "2  lisi  李四  接待中  max default" in named.stdout

    qr = tmp_path / "qr.svg"
    assert (await acli("accounts", "qr", account_id, "--out", str(qr))).exit_code == 0
    assert SafeXml.fromstring(qr.read_bytes()).tag.endswith("svg")
    nowhere = tmp_path / "no" / "qr.svg"  # a path that cannot be written: one line, not a traceback
    unwritten = await acli("accounts", "qr", account_id, "--out", str(nowhere))
    assert (unwritten.exit_code, unwritten.stderr) == (
        2,
        f"error: cannot write {nowhere}: No such file or directory\n",
    )
    assert (await acli("accounts", "disable", account_id)).stdout.endswith("disabled.\n")
    refused = await acli("accounts", "qr", account_id, "--out", str(tmp_path / "qr.png"))
    assert refused.exit_code == 2 and "contact link is not offered" in refused.stderr
    shown = await acli("accounts", "show", account_id, "--json")
    assert '"enabled": false' in shown.stdout

    kb = tmp_path / "kb.csv"
    kb.write_text(
        "id,question,answer\nq1,保修多久,一年\nq2,,没有问题\nq3,怎么退货,七天无理由\n", encoding="utf-8"
    )
    imported = await acli("kb", "import", str(kb), "--account", account_id)
    assert imported.exit_code == 1
    assert f"{kb}:3: question is empty (row skipped)" in imported.stderr
    assert "2 added (0 unchanged)" in imported.stdout
    exported = await acli("kb", "export", "--account", account_id)
    assert exported.stdout.splitlines() == [
        "id,question,answer,alt_questions,tags,enabled",
        "q1,保修多久,一年,,,true",
        "q3,怎么退货,七天无理由,,,true",
    ]
    asked = await acli("kb", "ask", "请问怎么退货呀", "--account", account_id, "--json")
    answer = json.loads(asked.stdout)
    assert (answer["entry_id"], answer["answer"], answer["not_sure"]) == ("q3", "七天无理由", False)
    assert 0.5 <= answer["confidence"] <= 1
    unsure = json.loads((await acli("kb", "ask", "今天天气好吗", "--account", account_id, "--json")).stdout)
    assert (unsure["entry_id"], unsure["not_sure"]) == (None, True)
    greeting = await acli("kb", "ask", "你好", "--account", account_id)
    assert greeting.stdout == "small talk: greeting\n您好，请问有什么可以帮您？\n"
    assert (
        await acli("kb", "ask", "好的", "--account", account_id)
    ).stdout == "small talk: acknowledgement\n(no reply)\n"
    for name in ("kb.csv", "kb.xlsx"):
        unwritten = await acli("kb", "export", "--account", account_id, "--out", str(tmp_path / "no" / name))
        assert unwritten.exit_code == 2
        assert (
            unwritten.stderr == f"error: cannot write {tmp_path / 'no' / name}: No such file or directory\n"
        )
    workbook = tmp_path / "kb.xlsx"
    assert (await acli("kb", "export", "--account", account_id, "--out", str(workbook))).exit_code == 0
    assert (await acli("kb", "import", str(workbook), "--account", account_id)).stdout.endswith(
        "nothing changed (2 unchanged) from " + str(workbook) + "\n"
    )

    deleted = await acli("accounts", "delete", account_id, "--yes")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    assert "命令行改名" not in kf.names()


async def test_a_text_holding_a_control_character_is_refused_naming_its_field(
    rt: Runtime, api: httpx.AsyncClient
) -> None:
    """Word's line break pasted into a welcome text, an escape into a survey option: refused where
    they are typed, as the knowledge base refuses them, instead of being stored and sent."""
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    url = f"/api/v1/accounts/{account.id}/settings"
    before = (await api.get(url)).json()
    survey = {"mode": "fixed", "text": "请评价", "options": [{"label": "满意\x1b", "score": 100}]}
    bad = await api.put(
        url, json={"messages": {"welcome": {"mode": "fixed", "text": "欢迎\x0b光临"}, "survey": survey}}
    )
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_settings"
    assert bad.json()["message"] == (
        "messages.welcome.text: holds an invisible control character (\\x0b); remove it; "
        "messages.survey.options[0].label: holds an invisible control character (\\x1b); remove it"
    )
    assert (await api.get(url)).json() == before
    fine = {"mode": "fixed", "text": "欢迎光临\n请问有什么可以帮您？\t😀"}  # line breaks and tabs are text
    assert (await api.put(url, json={"messages": {"welcome": fine}})).status_code == 200
