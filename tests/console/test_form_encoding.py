"""A console form whose text is not UTF-8 — a bad percent-escape in a url-encoded form, bytes of
another encoding in a multipart field — is refused with a 400 page in the reader's language and
nothing is saved: Starlette decoded the first as U+FFFD and the second as Latin-1, and the card
was stored so. Raw UTF-8 in a url-encoded body (what `curl -d` sends) is read as UTF-8, as the
HTML standard reads it, not as Latin-1."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from kefu.crm.models import CrmCustomer
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of

pytestmark = pytest.mark.db
NEW_CUSTOMER = "/console/crm/customers/new"
NOT_UTF8_ZH = "提交的内容不是 UTF-8 文本"
NOT_UTF8_EN = "The text sent is not UTF-8"
URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


async def _names(rt: Runtime) -> list[str]:
    async with rt.db.read() as session:
        return list((await session.scalars(select(CrmCustomer.name))).all())


async def test_a_bad_percent_escape_is_a_400_page_and_nothing_is_saved(
    rt: Runtime, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(NEW_CUSTOMER))
    body = f"csrf_token={quote(csrf)}&name=%E9%9D%92%FF%E7%A6%BE".encode()
    answer = await admin.post("/console/crm/customers", content=body, headers=URLENCODED)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("text/html") and NOT_UTF8_ZH in answer.text
    admin.cookies.set("kefu_lang", "en")
    english = await admin.post("/console/crm/customers", content=body, headers=URLENCODED)
    assert english.status_code == 400 and NOT_UTF8_EN in english.text
    assert await _names(rt) == []


async def test_a_multipart_field_in_another_encoding_is_a_400_page_and_nothing_is_saved(
    rt: Runtime, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(NEW_CUSTOMER))
    fields = {"csrf_token": (None, csrf), "name": (None, "青禾家电".encode("gbk"))}
    answer = await admin.post("/console/crm/customers", files=fields)
    assert answer.status_code == 400, answer.text
    assert NOT_UTF8_ZH in answer.text
    assert await _names(rt) == []


async def test_raw_utf8_in_a_urlencoded_body_is_read_as_utf8(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(NEW_CUSTOMER))
    body = f"csrf_token={quote(csrf)}&name=青禾+家电&notes=a%2Bb".encode()
    answer = await admin.post("/console/crm/customers", content=body, headers=URLENCODED)
    assert answer.status_code == 303, answer.text
    assert await _names(rt) == ["青禾 家电"]


async def test_a_login_form_that_is_not_utf8_is_the_same_page(console: httpx.AsyncClient) -> None:
    page = await console.get("/console/login")
    body = f"csrf_token={quote(csrf_of(page))}&username=%FF&password=x".encode()
    answer = await console.post("/console/login", content=body, headers=URLENCODED)
    assert answer.status_code == 400 and NOT_UTF8_ZH in answer.text
