"""A page left open while the row it shows is removed: its form or button, used then, is refused
on the error page in the reader's language (`errors.problem.<code>`), not in the service's
English — a knowledge entry deleted meanwhile, an API token revoked meanwhile — and so is a
settings tab that does not exist."""

from __future__ import annotations

import re

import httpx
import pytest

from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import make_account, make_connection


def said(page: httpx.Response) -> str:
    """The error page's message."""
    found = re.search(r'<div class="card empty"><h1>[^<]*</h1><p>(.*?)</p>', page.text, re.S)
    assert found, page.text[:500]
    return found.group(1)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh", "没有 id 为“w1”的知识条目（可能已被删除）：请回到知识库列表刷新"),
        (
            "en",
            "There is no knowledge entry with id “w1” (it may have been deleted): "
            "go back to the knowledge base and refresh",
        ),
    ],
)
async def test_a_knowledge_entry_deleted_meanwhile(
    rt: Runtime, signed_in: SignIn, lang: str, words: str
) -> None:
    connection, _ = await make_connection(rt)
    account_id = (await make_account(rt, connection)).id
    supervisor = await signed_in("supervisor")
    supervisor.cookies.set("kefu_lang", lang)
    csrf = csrf_of(await supervisor.get("/console/knowledge"))
    entry = {"csrf_token": csrf, "id": "w1", "question": "保修多久", "answer": "三年。", "enabled": "1"}
    assert (await supervisor.post(f"/console/knowledge/{account_id}/entry", data=entry)).status_code == 303
    base = f"/console/knowledge/{account_id}"
    deleted = await supervisor.post(f"{base}/delete", data={"csrf_token": csrf, "id": "w1"})
    assert deleted.status_code == 303

    for refused in (
        await supervisor.get(f"{base}/entry", params={"id": "w1"}),  # its edit form, opened by a stale link
        await supervisor.post(f"{base}/entry", data={**entry, "editing": "w1"}),  # the edit form, saved
        await supervisor.post(f"{base}/enabled", data={"csrf_token": csrf, "id": "w1"}),  # 停用
        await supervisor.post(f"{base}/delete", data={"csrf_token": csrf, "id": "w1"}),  # 删除, again
    ):
        assert refused.status_code == 404 and said(refused) == words


async def test_a_token_revoked_meanwhile(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/tokens")
    made = await admin.post("/console/tokens", data={"csrf_token": csrf_of(page), "name": "erp"})
    token_id = re.search(r"/console/tokens/(\d+)/revoke", made.text)
    assert token_id
    revoke = f"/console/tokens/{token_id.group(1)}/revoke"
    assert (await admin.post(revoke, data={"csrf_token": csrf_of(page)})).status_code == 303
    again = await admin.post(revoke, data={"csrf_token": csrf_of(page)})  # from a page left open
    assert again.status_code == 404 and said(again) == "这个 API 令牌已不存在（可能已被吊销）"


async def test_a_settings_tab_that_does_not_exist(rt: Runtime, signed_in: SignIn) -> None:
    connection, _ = await make_connection(rt)
    account_id = (await make_account(rt, connection)).id
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account_id}", params={"tab": "hours2"})
    assert page.status_code == 404 and said(page) == "没有“hours2”这个设置页"
