"""A number typed or hand-edited into a form — an id in a select's value or a hidden field, a
servicer's cap — that no row can hold is refused in words, never a server error: "²" passes
str.isdigit but not int(), 20 digits overflow SQLite's INTEGER, 2^31 PostgreSQL's."""

from __future__ import annotations

import re

import pytest

from kefu.reception.models import Conversation
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import make_account, make_connection

NOT_IDS = ["²", "99999999999999999999", "2147483648"]


def flash_error(text: str) -> str:
    found = re.search(r'class="flash flash-error" role="status">(.*?)</div>', text)
    assert found, text[:500]
    return found.group(1)


@pytest.mark.parametrize("typed", NOT_IDS)
async def test_a_new_accounts_connection(rt: Runtime, signed_in: SignIn, typed: str) -> None:
    await make_connection(rt)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/accounts"))
    form = {"csrf_token": csrf, "connection_id": typed, "name": "售后"}
    refused = await admin.post("/console/accounts", data=form)
    assert refused.status_code == 422 and "请选择一个接入" in refused.text


@pytest.mark.parametrize("typed", ["²", "99999999999999999999", "1001"])
async def test_a_servicers_cap(rt: Runtime, signed_in: SignIn, typed: str) -> None:
    connection, _ = await make_connection(rt)
    account_id = (await make_account(rt, connection)).id
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(f"/console/accounts/{account_id}"))
    form = {"csrf_token": csrf, "userid": "zhangsan", "max_sessions": typed, "name": "张三"}
    refused = await admin.post(f"/console/accounts/{account_id}/servicers", data=form)
    assert refused.status_code == 422 and "接待上限须为 1 到 1000 之间的整数" in refused.text


@pytest.mark.parametrize("typed", NOT_IDS)
async def test_a_contact_to_bind(rt: Runtime, signed_in: SignIn, typed: str) -> None:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    now = rt.clock.now()
    async with rt.db.write() as session:
        conversation = Conversation(
            account_id=account.id, external_userid="wm1", created_at=now, updated_at=now
        )
        session.add(conversation)
        await session.flush()
        path = f"/console/conversations/{conversation.id}"
    admin = await signed_in("admin")
    form = {"csrf_token": csrf_of(await admin.get(path)), "contact_id": typed}
    refused = await admin.post(f"{path}/contact", data=form)
    assert refused.status_code == 422 and flash_error(refused.text) == "请选择要绑定的联系人"


@pytest.mark.parametrize("typed", NOT_IDS)
async def test_a_reports_account(signed_in: SignIn, typed: str) -> None:
    supervisor = await signed_in("supervisor")
    refused = await supervisor.get("/console/reports", params={"account_id": typed})
    assert refused.status_code == 422 and "field-error" in refused.text
