"""接入后设置 → 在线客服账号, the parts that go to WeCom (against Kefu's WeCom simulator): 基础信息's
name, 接待人员 added and removed, the contact link and its QR code, a new account, and WeCom's
refusals said in the reader's language."""

from __future__ import annotations

from kefu.accounts.models import KfAccount
from kefu.accounts.servicers import list_servicers
from kefu.accounts.settings import get_account
from kefu.runtime import Runtime
from tests.accounts import fixtures as account_fixtures
from tests.accounts import kf_fixtures
from tests.accounts.kf_fixtures import KfWorld, read_png
from tests.console import account_world
from tests.console.account_world import events
from tests.console.conftest import SignIn, csrf_of
from tests.console.forms import form_values

corp, kf = account_fixtures.corp, kf_fixtures.kf
no_check_pauses = account_fixtures._no_check_pauses
account = account_world.account


async def test_basic_renames_in_wecom_and_refuses_a_long_name(
    rt: Runtime, kf: KfWorld, account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}")
    form = form_values(page.text, "settings-form")

    refused = await admin.post(
        f"/console/accounts/{account.id}/settings/basic", data=form | {"name": "名" * 17}
    )
    assert (
        refused.status_code == 422 and 'data-error-for="name"' in refused.text and "名" * 17 in refused.text
    )
    assert kf.account(account.open_kfid)["name"] == "售后"

    saved = await admin.post(
        f"/console/accounts/{account.id}/settings/basic", data=form | {"name": "售后服务"}
    )
    assert saved.status_code == 303
    assert kf.account(account.open_kfid)["name"] == "售后服务"
    (event,) = await events(rt, "account.update")
    assert event.changes == {"name": ["售后", "售后服务"]} and event.actor == "console:admin0"


async def test_servicers_are_added_and_removed_in_wecom(
    rt: Runtime, kf: KfWorld, account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}")
    token = csrf_of(page)

    added = await admin.post(
        f"/console/accounts/{account.id}/servicers",
        data={"csrf_token": token, "userid": "zhangsan", "max_sessions": "3"},
    )
    assert added.status_code == 303
    refused = await admin.post(
        f"/console/accounts/{account.id}/servicers", data={"csrf_token": token, "userid": "nobody"}
    )
    assert refused.status_code == 200 and "nobody" in refused.text and "60111" in refused.text
    said = "企业微信错误 60111：企业中没有这个成员（请在通讯录中核对 userid）"  # not WeCom's English
    assert f"nobody: {said}" in refused.text and "user does not exist" not in refused.text
    assert said in (await admin.get(f"/console/accounts/{account.id}")).text  # the row's 已加入企业微信
    bad_cap = await admin.post(
        f"/console/accounts/{account.id}/servicers",
        data={"csrf_token": token, "userid": "lisi", "max_sessions": "x"},
    )
    assert bad_cap.status_code == 422 and 'data-error-for="servicer_userid"' in bad_cap.text
    async with rt.db.read() as session:
        rows = {r.userid: r for r in await list_servicers(session, account.id)}
    assert rows["zhangsan"].in_wecom and rows["zhangsan"].max_sessions == 3
    assert not rows["nobody"].in_wecom and "lisi" not in rows
    page = await admin.get(f"/console/accounts/{account.id}")
    assert "zhangsan" in page.text and "接待上限" in page.text

    removed = await admin.post(
        f"/console/accounts/{account.id}/servicers/remove", data={"csrf_token": token, "userid": "zhangsan"}
    )
    assert removed.status_code == 303
    async with rt.db.read() as session:
        assert [r.userid for r in await list_servicers(session, account.id)] == ["nobody"]
    audited = await events(rt, "account.servicers.update")
    assert [e.actor for e in audited] == ["console:admin0"] * 3
    assert audited[0].changes["servicers.zhangsan.max_sessions"] == [None, 3]


async def test_the_contact_link_and_its_qr_code(rt: Runtime, account: KfAccount, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}")
    assert "生成联系链接" in page.text and "qr.png" not in page.text
    assert (await admin.get(f"/console/accounts/{account.id}/qr.png")).status_code == 404

    bad = await admin.post(
        f"/console/accounts/{account.id}/link", data={"csrf_token": csrf_of(page), "scene": "has space"}
    )
    assert bad.status_code == 422 and 'data-error-for="scene"' in bad.text
    made = await admin.post(
        f"/console/accounts/{account.id}/link", data={"csrf_token": csrf_of(page), "scene": "poster"}
    )
    assert made.status_code == 303
    async with rt.db.read() as session:
        url = (await get_account(session, account.id)).contact_url
    assert url and url.startswith("https://")
    page = await admin.get(f"/console/accounts/{account.id}")
    assert f'value="{url}"' in page.text and "data-copy" in page.text and "下载二维码" in page.text

    qr = await admin.get(f"/console/accounts/{account.id}/qr.png")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    width, height, _ = read_png(qr.content)
    assert width == height and width > 100
    download = await admin.get(f"/console/accounts/{account.id}/qr.png?download=1")
    assert (
        download.headers["content-disposition"].startswith("attachment;") and download.content == qr.content
    )
    (event,) = await events(rt, "account.link.create")
    assert event.changes["contact_scene"] == [None, "poster"] and event.actor == "console:admin0"


async def test_a_new_account_is_created_in_wecom(rt: Runtime, kf: KfWorld, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/accounts")
    made = await admin.post(
        "/console/accounts",
        data={"csrf_token": csrf_of(page), "connection_id": str(kf.connection.id), "name": "新品咨询"},
    )
    assert made.status_code == 303
    assert "新品咨询" in kf.names()
    again = await admin.post(
        "/console/accounts",
        data={"csrf_token": csrf_of(page), "connection_id": str(kf.connection.id), "name": "新品咨询"},
    )
    assert again.status_code == 422 and 'data-error-for="name"' in again.text
    assert "该接入下已有名为“新品咨询”的客服账号" in again.text
    assert kf.names().count("新品咨询") == 1
    (event,) = await events(rt, "account.create")
    assert event.actor == "console:admin0" and event.changes["name"] == [None, "新品咨询"]


async def test_a_wecom_refusal_is_said_in_the_readers_language(kf: KfWorld, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/accounts")
    for lang, words in (
        (
            "zh",
            "企业微信拒绝了这次操作，Kefu 中没有任何改动。企业微信的答复：WeCom kf/account/add errcode 95027",
        ),
        (
            "en",
            "WeCom refused this change; nothing was changed in Kefu. "
            "WeCom said: WeCom kf/account/add errcode 95027",
        ),
    ):
        kf.simulator.control(
            "POST", "faults", json={"endpoint": "kf/account/add", "errcodes": [95027], "count": 1}
        )
        admin.cookies.set("kefu_lang", lang)
        refused = await admin.post(
            "/console/accounts",
            data={"csrf_token": csrf_of(page), "connection_id": str(kf.connection.id), "name": "第十一个"},
        )
        assert refused.status_code == 422 and 'data-error-for="name"' in refused.text
        assert words in refused.text, lang
    assert "第十一个" not in kf.names()
