"""NUL (\\u0000) typed or pasted into a console form, a page's query, the login form or an
imported CSV: a clear refusal and nothing saved (the good rows of a CSV kept). PostgreSQL
answered each with a 500 deep inside a handler; SQLite stored it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from kefu.accounts.models import KfAccount
from kefu.api.body_limit import MAX_BODY_BYTES
from kefu.api.models import ApiToken, ConsoleUser
from kefu.crm.models import CrmCustomer
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, add_user, csrf_of
from tests.factories import api_client, make_account, make_connection

pytestmark = pytest.mark.db
REFUSED = "无法保存的字符"
NEW_CUSTOMER = "/console/crm/customers/new"


@pytest.mark.parametrize(
    ("page", "action", "fields", "table"),
    [
        (NEW_CUSTOMER, "/console/crm/customers", {"name": "青禾\x00"}, CrmCustomer),
        (NEW_CUSTOMER, "/console/crm/customers", {"name": "青禾", "notes": "\x00"}, CrmCustomer),
        ("/console/tokens", "/console/tokens", {"name": "erp\x00"}, ApiToken),
        (
            "/console/users",
            "/console/users",
            {"username": "wang", "password": "long enough 1", "role": "admin", "display_name": "王\x00"},
            ConsoleUser,
        ),
    ],
)
async def test_nul_in_a_console_form_is_a_422_page_and_nothing_is_saved(
    rt: Runtime, signed_in: SignIn, page: str, action: str, fields: dict[str, str], table: type
) -> None:
    admin = await signed_in("admin")
    async with rt.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(table))
    answer = await admin.post(action, data={"csrf_token": csrf_of(await admin.get(page)), **fields})
    assert answer.status_code == 422, answer.text
    assert REFUSED in answer.text
    async with rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(table)) == before


async def test_nul_in_a_knowledge_entry_form_saves_nothing(rt: Runtime, signed_in: SignIn) -> None:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(f"/console/knowledge?account={account.id}"))
    entry = {"id": "k1", "question": "怎么退货\x00", "answer": "七天无理由", "enabled": "1"}
    answer = await admin.post(f"/console/knowledge/{account.id}/entry", data={"csrf_token": csrf, **entry})
    assert answer.status_code == 422 and REFUSED in answer.text
    export = await admin.get(f"/console/knowledge/{account.id}/export")
    assert "k1" not in export.text


async def test_nul_in_a_console_query_is_a_422_page(signed_in: SignIn) -> None:
    admin = await signed_in("supervisor")
    answer = await admin.get("/console/crm/customers", params={"q": "青禾\x00"})
    assert answer.status_code == 422 and REFUSED in answer.text


async def test_nul_in_the_login_username_is_the_wrong_login(rt: Runtime, console: httpx.AsyncClient) -> None:
    await add_user(rt, "lin", "admin")
    page = await console.get("/console/login")
    answer = await console.post(
        "/console/login", data={"username": "lin\x00", "password": "x", "csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text


async def test_a_csv_row_with_nul_is_reported_by_line_and_the_good_rows_kept(rt: Runtime) -> None:
    connection, _ = await make_connection(rt)
    account: KfAccount = await make_account(rt, connection)
    async with api_client(rt) as api:
        kb = await api.post(
            f"/api/v1/accounts/{account.id}/knowledge/import",
            content="id,question,answer\nk1,退货\x00,七天\nk2,发票,开具\n".encode(),
        )
        assert kb.status_code == 200, kb.text
        assert [(e["line"], e["problem"]) for e in kb.json()["errors"]] == [(2, "unstorable")]
        ids = [e["id"] for e in (await api.get(f"/api/v1/accounts/{account.id}/knowledge")).json()]
        assert ids == ["k2"]
        crm = await api.post(
            "/api/v1/crm/import/customers",
            content="external_id,name,notes\nC-1,青禾,\x00\nC-2,蓝山,\n".encode(),
        )
        assert crm.status_code == 200, crm.text
        assert [(e["line"], e["problem"]) for e in crm.json()["errors"]] == [(2, "unstorable")]
        names = [c["name"] for c in (await api.get("/api/v1/crm/customers")).json()]
        assert names == ["蓝山"]


async def test_a_form_field_over_a_megabyte_is_the_consoles_own_page_and_nothing_is_saved(
    rt: Runtime, signed_in: SignIn
) -> None:
    """Starlette refuses a multipart field over 1 MB: it answered with a bare JSON 400."""
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(NEW_CUSTOMER))
    fields = {"csrf_token": (None, csrf), "name": (None, "青禾"), "notes": (None, "长" * 400_000)}
    answer = await admin.post("/console/crm/customers", files=fields)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html") and "单项超过 1 MB" in answer.text
    async with rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CrmCustomer)) == 0


async def test_a_console_upload_over_the_limit_is_the_error_page_and_saves_nothing(
    rt: Runtime, signed_in: SignIn
) -> None:
    """Any body past kefu.api.body_limit's limit, a file part a form does not even take too:
    it was spooled to disk whatever its size, and the card saved."""
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(NEW_CUSTOMER))
    fields = {"csrf_token": (None, csrf), "name": (None, "青禾"), "file": ("big.bin", b"x" * MAX_BODY_BYTES)}
    answer = await admin.post("/console/crm/customers", files=fields)
    assert answer.status_code == 413, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert "提交的内容超过 21 MB" in answer.text
    async with rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CrmCustomer)) == 0
