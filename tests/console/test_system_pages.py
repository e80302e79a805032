"""用户 and API 令牌 pages: an admin creates a user (a bad value shown beside its field, what was
typed kept) and a token that then opens the REST API."""

from __future__ import annotations

import re

from kefu.api import users
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of, login


async def test_an_admin_creates_a_user_who_can_then_sign_in(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/users")
    assert page.status_code == 200 and "新建用户" in page.text
    bad = await admin.post(
        "/console/users",
        data={"csrf_token": csrf_of(page), "username": "lisi", "role": "servicer", "password": "long enough"},
    )
    assert bad.status_code == 422
    assert "field-error" in bad.text and 'value="lisi"' in bad.text
    assert "客服用户须填写企业微信 userid" in bad.text
    made = await admin.post(
        "/console/users",
        data={
            "csrf_token": csrf_of(page),
            "username": "lisi",
            "role": "servicer",
            "wecom_userid": "lisi",
            "password": "long enough",
        },
    )
    assert made.status_code == 303
    assert "lisi" in (await admin.get(made.headers["location"])).text
    fresh = await signed_in("supervisor")  # same app: a new client for lisi
    await fresh.post("/console/logout", data={"csrf_token": csrf_of(await fresh.get("/console/"))})
    assert (await login(fresh, "lisi", "long enough")).status_code == 303


async def test_a_token_made_on_the_page_opens_the_api_once_shown(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/tokens")
    made = await admin.post("/console/tokens", data={"csrf_token": csrf_of(page), "name": "erp"})
    assert made.status_code == 200 and 'id="new-token"' in made.text
    token = made.text.split('id="new-token">')[1].split("<")[0]
    api = await admin.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    listed = await admin.get("/console/tokens")
    assert "erp" in listed.text and token not in listed.text
    duplicate = await admin.post("/console/tokens", data={"csrf_token": csrf_of(page), "name": "erp"})
    assert duplicate.status_code == 422 and "已有名为“erp”的令牌" in duplicate.text


async def test_a_display_name_or_userid_past_its_column_is_refused_beside_its_field(
    rt: Runtime, signed_in: SignIn
) -> None:
    """Both columns hold 64 characters and nothing checked them: PostgreSQL answered a longer one
    with a 500, SQLite stored it whole."""
    admin = await signed_in("admin")
    page = await admin.get("/console/users")
    user = {"csrf_token": csrf_of(page), "username": "lisi", "role": "servicer", "password": "long enough"}
    for field, words in (
        ("display_name", "显示名称最多 64 个字符"),
        ("wecom_userid", "企业微信 userid 最多 64 个字符"),
    ):
        refused = await admin.post("/console/users", data={**user, "wecom_userid": "lisi", field: "名" * 65})
        assert refused.status_code == 422, refused.text
        assert re.search(rf'name="{field}"[^>]*>\s*<div class="error-text">{words}</div>', refused.text), (
            refused.text
        )
    async with rt.db.read() as session:
        assert [u.username for u in await users.list_users(session)] == ["admin0"]
