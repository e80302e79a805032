"""审计日志 page: the users and API-token pages' changes are recorded (never a token or a
password) and shown newest first with before → after, filtered by actor and target, in pages."""

from __future__ import annotations

from kefu.audit.log import record
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import api_client, make_account, make_connection


async def test_console_changes_to_users_and_tokens_are_audited(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/users"))
    await admin.post(
        "/console/users",
        data={"csrf_token": csrf, "username": "lisi", "role": "supervisor", "password": "long enough"},
    )
    users_page = await admin.get("/console/users")
    lisi_id = users_page.text.split('action="/console/users/')[2].split("/")[0]
    await admin.post(f"/console/users/{lisi_id}/disabled", data={"csrf_token": csrf, "disabled": "1"})
    made = await admin.post("/console/tokens", data={"csrf_token": csrf, "name": "erp"})
    token = made.text.split('id="new-token">')[1].split("<")[0]
    supervisor = await signed_in("supervisor")
    page = await supervisor.get("/console/audit")
    assert page.status_code == 200
    text = page.text
    assert text.index("token.create") < text.index("user.update") < text.index("user.create")
    assert "console:admin0" in text and "user:lisi" in text and "token:erp" in text
    assert token not in text and "long enough" not in text
    assert '<span class="was">false</span> → <span class="now">true</span>' in text
    only_tokens = await supervisor.get("/console/audit?target=token:")
    assert "token:erp" in only_tokens.text and "user:lisi" not in only_tokens.text
    nobody = await supervisor.get("/console/audit?actor=console:nobody")
    assert "还没有记录" in nobody.text


async def test_the_log_pages_newest_first(rt: Runtime, signed_in: SignIn) -> None:
    async with rt.db.write() as session:
        for n in range(60):
            await record(session, actor="cli", action="test.change", target=f"thing:{n}", after={"n": n})
    admin = await signed_in("admin")
    first = await admin.get("/console/audit")
    assert "thing:59" in first.text and "thing:9<" not in first.text and "第 1 / 2 页" in first.text
    second = await admin.get("/console/audit?page=2")
    assert "thing:9<" in second.text and "thing:59" not in second.text


async def test_servicers_cannot_read_the_audit_log(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    assert (await servicer.get("/console/audit")).status_code == 403


async def test_rest_api_writes_are_audited_as_their_token(rt: Runtime, signed_in: SignIn) -> None:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    async with api_client(rt, token_name="erp") as api:
        entry = {"question": "几点上班", "answer": "九点。"}
        assert (
            await api.put(f"/api/v1/accounts/{account.id}/knowledge/hours", json=entry)
        ).status_code == 200
        made = await api.post("/api/v1/crm/customers", json={"name": "青禾家电"})
        assert made.status_code == 201
    admin = await signed_in("admin")
    page = await admin.get("/console/audit?actor=api:erp")
    assert f"account:{account.id}/knowledge:hours" in page.text and "crm.customer.create" in page.text
    assert '→ <span class="now">青禾家电</span>' in page.text  # Chinese as written


async def test_times_are_shown_in_chinas_time_not_utc(rt: Runtime, signed_in: SignIn) -> None:
    from datetime import UTC, datetime

    async with rt.db.write() as session:
        at = datetime(2026, 12, 1, 18, 30, 5, tzinfo=UTC)  # 02:30:05 the next day in Shanghai
        await record(session, actor="cli", action="user.create", target="user:77", after={"x": 1}, now=at)
    page = await (await signed_in("admin")).get("/console/audit")
    assert "2026-12-02 02:30:05" in page.text
    assert "2026-12-01 18:30:05" not in page.text


async def test_actions_read_as_words_with_their_code_beside_them(rt: Runtime, signed_in: SignIn) -> None:
    """The action column showed only codes (account.update); a code without words (a new one)
    still shows as itself."""
    async with rt.db.write() as session:
        await record(
            session, actor="cli", action="account.update", target="account:1", before={"n": 1}, after={"n": 2}
        )
        await record(session, actor="cli", action="brand.new", target="thing:1", after={"n": 1})
    admin = await signed_in("admin")
    for lang, words in (("zh", "修改客服账号"), ("en", "Account changed")):
        admin.cookies.set("kefu_lang", lang)
        text = (await admin.get("/console/audit")).text
        assert f'<span class="audit-action" title="account.update">{words}</span>' in text, lang
        assert '<code class="muted"' in text and ">account.update</code>" in text
        assert "<td><code>brand.new</code></td>" in text
