"""启用与接入: 新建接入 checked against Kefu's WeCom simulator (the accounts the app may manage, or
what is wrong, in words), secrets never shown again, edit, 测试连接, disable, delete — each
change in the audit log by the console user."""

from __future__ import annotations

import html

from sqlalchemy import select

from kefu.accounts import service
from kefu.accounts.kf_accounts import list_all_accounts
from kefu.audit.models import AuditEvent
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.accounts import fixtures as account_fixtures
from tests.accounts import kf_fixtures
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, Corp
from tests.accounts.kf_fixtures import KfWorld
from tests.console.conftest import SignIn, csrf_of

# The account tests' fixtures: a simulator corp with accounts (`corp`), a saved connection (`kf`).
corp, kf = account_fixtures.corp, kf_fixtures.kf
no_check_pauses = account_fixtures._no_check_pauses


async def audit_events(rt: Runtime, action: str) -> list[AuditEvent]:
    async with rt.db.read() as session:
        return list((await session.scalars(select(AuditEvent).where(AuditEvent.action == action))).all())


def new_connection(page_text: str, corp: Corp, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_of_text(page_text),
        "name": "qinghe",
        "corp_id": corp.corpid,
        "secret": corp.secret,
        "callback_token": CB_TOKEN,
        "aes_key": AES_KEY,
        **changes,
    }


def csrf_of_text(text: str) -> str:
    return text.split('name="csrf_token" value="')[1].split('"')[0]


async def test_a_new_connection_is_checked_then_saved_with_its_accounts(
    rt: Runtime, corp: Corp, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/connections")
    assert page.status_code == 200 and "新建接入" in page.text and "还没有接入" in page.text

    saved = await admin.post("/console/connections", data=new_connection(page.text, corp))

    assert saved.status_code == 200, saved.text
    assert "连接正常" in saved.text and "售后" in saved.text and "售前" in saved.text
    async with rt.db.read() as session:
        (connection,) = await service.list_connections(session)
        accounts = await service.list_accounts(session, connection.id)
    assert sorted(a.open_kfid for a in accounts) == sorted(corp.open_kfids)
    assert f"/wecom/callback/{connection.id}" in saved.text and "data-copy" in saved.text
    assert rt.secrets.open(connection.secret_enc) == corp.secret
    listed = await admin.get("/console/connections")
    for secret in (corp.secret, CB_TOKEN, AES_KEY):
        assert secret not in saved.text and secret not in listed.text  # never shown again in full
    (event,) = await audit_events(rt, "connection.create")
    assert event.actor == "console:admin0" and event.target == f"connection:{connection.id}"
    assert event.changes["secret"] == ["(changed)", "(changed)"]
    assert event.changes["corp_id"] == [None, corp.corpid]


async def test_a_wrong_secret_is_named_and_nothing_is_saved(
    rt: Runtime, corp: Corp, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/connections")

    refused = await admin.post("/console/connections", data=new_connection(page.text, corp, secret="wrong-1"))

    assert refused.status_code == 422
    assert "Secret 不正确" in refused.text and "40001" in refused.text
    assert f'value="{corp.corpid}"' in refused.text and "wrong-1" not in refused.text
    async with rt.db.read() as session:
        assert await service.list_connections(session) == []
    assert await audit_events(rt, "connection.create") == []


async def test_an_invalid_field_is_shown_beside_it(rt: Runtime, corp: Corp, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/connections")

    refused = await admin.post("/console/connections", data=new_connection(page.text, corp, aes_key="short"))

    assert refused.status_code == 422
    assert 'data-error-for="aes_key"' in refused.text and "EncodingAESKey" in refused.text
    async with rt.db.read() as session:
        assert await service.list_connections(session) == []


async def test_test_connection_lists_the_accounts_or_says_what_is_wrong(
    rt: Runtime, kf: KfWorld, simulator: SimulatorServer, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/connections/{kf.connection.id}")
    assert page.status_code == 200 and "测试连接" in page.text

    ok = await admin.post(f"/console/connections/{kf.connection.id}/test", data={"csrf_token": csrf_of(page)})
    assert ok.status_code == 200 and "连接正常" in ok.text
    assert "售后" in ok.text and "售前" in ok.text and "内部" in ok.text

    simulator.control("PUT", f"corps/{kf.corp.corpid}/ip-allowlist", json={"ips": ["203.0.113.7"]})
    refused = await admin.post(
        f"/console/connections/{kf.connection.id}/test", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 200
    assert "服务器 IP 不在企业可信 IP 中" in refused.text and "127.0.0.1" in html.unescape(refused.text)
    async with rt.db.read() as session:
        assert (await service.get_connection(session, kf.connection.id)).last_check_ok is False
    (event,) = await audit_events(rt, "connection.check")
    assert event.changes["last_check_ok"] == [True, False]


async def test_a_stored_wrong_secret_is_reported_by_test_connection(
    rt: Runtime, kf: KfWorld, signed_in: SignIn
) -> None:
    async with rt.db.write() as session:
        row = await service.get_connection(session, kf.connection.id)
        row.secret_enc = rt.secrets.seal("not-the-secret")
    admin = await signed_in("admin")
    page = await admin.get(f"/console/connections/{kf.connection.id}")

    refused = await admin.post(
        f"/console/connections/{kf.connection.id}/test", data={"csrf_token": csrf_of(page)}
    )

    assert "Secret 不正确" in refused.text and "Wrong secret" in refused.text


async def test_edit_keeps_blank_secrets_and_records_the_change(
    rt: Runtime, kf: KfWorld, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/connections/{kf.connection.id}")
    assert kf.corp.secret not in page.text and 'value="qinghe"' in page.text
    form = {"csrf_token": csrf_of(page), "name": "qinghe-2", "corp_id": kf.corp.corpid}

    bad = await admin.post(
        f"/console/connections/{kf.connection.id}", data={**form, "callback_token": "no spaces!"}
    )
    assert bad.status_code == 422 and 'data-error-for="callback_token"' in bad.text

    saved = await admin.post(f"/console/connections/{kf.connection.id}", data=form)
    assert saved.status_code == 200 and "已保存" in saved.text
    async with rt.db.read() as session:
        row = await service.get_connection(session, kf.connection.id)
    assert row.name == "qinghe-2" and rt.secrets.open(row.secret_enc) == kf.corp.secret
    assert rt.secrets.open(row.callback_token_enc) == CB_TOKEN
    (event,) = await audit_events(rt, "connection.update")
    assert event.changes == {"name": ["qinghe", "qinghe-2"]} and event.actor == "console:admin0"


async def test_disable_every_account_then_delete_after_typing_the_name(
    rt: Runtime, kf: KfWorld, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/connections/{kf.connection.id}")
    token = csrf_of(page)

    off = await admin.post(
        f"/console/connections/{kf.connection.id}/enabled", data={"csrf_token": token, "enabled": "0"}
    )
    assert off.status_code == 303
    async with rt.db.read() as session:
        assert [a.enabled for a in await list_all_accounts(session, kf.connection.id)] == [False, False]
    assert len(await audit_events(rt, "account.update")) == 2

    wrong = await admin.post(
        f"/console/connections/{kf.connection.id}/delete", data={"csrf_token": token, "confirm_name": "x"}
    )
    assert wrong.status_code == 422 and 'data-error-for="confirm_name"' in wrong.text
    gone = await admin.post(
        f"/console/connections/{kf.connection.id}/delete",
        data={"csrf_token": token, "confirm_name": "qinghe"},
    )
    assert gone.status_code == 303
    async with rt.db.read() as session:
        assert await service.list_connections(session) == []
    (event,) = await audit_events(rt, "connection.delete")
    assert event.changes["name"] == ["qinghe", None]
