"""A page's query refused by FastAPI (a search longer than its limit, a page number that is not
one) shows the error page in the reader's language — pydantic's error type worded as a settings
form words it (`settings.problem.<type>`) — instead of FastAPI's English JSON (the REST API keeps its
own JSON answer: tests/api/test_error_shape.py)."""

from __future__ import annotations

import pytest

from tests.console.conftest import SignIn
from tests.console.test_gone_rows import said


@pytest.mark.parametrize(
    ("role", "path", "params", "words"),
    [
        ("admin", "/console/audit", {"actor": "x" * 129}, "链接中的 actor 不对：最多 128 个字符"),
        ("supervisor", "/console/knowledge", {"q": "问" * 201}, "链接中的 q 不对：最多 200 个字符"),
        ("servicer", "/console/conversations", {"page": "二"}, "链接中的 page 不对：“二”不是整数"),
        ("servicer", "/console/conversations", {"page": "0"}, "链接中的 page 不对：不能小于 1"),
        (
            "admin",
            "/console/jobs",
            {"status": "lost"},
            "链接中的 status 不对：须为以下之一：failed / dropped",
        ),
    ],
)
async def test_a_refused_query_is_said_on_the_error_page_in_chinese(
    signed_in: SignIn, role: str, path: str, params: dict[str, str], words: str
) -> None:
    client = await signed_in(role)
    refused = await client.get(path, params=params)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert said(refused) == words


async def test_in_english_with_the_switch(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    admin.cookies.set("kefu_lang", "en")
    refused = await admin.get("/console/audit", params={"actor": "x" * 129, "page": "two"})
    assert refused.status_code == 422
    assert said(refused) == (
        "actor in the link is refused: At most 128 characters; "
        "page in the link is refused: “two” is not a whole number"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/console/accounts/99999999999999999999",  # past a 64-bit integer: SQLite cannot bind it
        "/console/accounts/2147483648",  # past the ids' 32-bit column: PostgreSQL refuses it
        "/console/conversations/2147483648",
        "/console/connections/0",
    ],
)
async def test_an_id_in_the_path_no_row_can_have_is_refused_in_words(signed_in: SignIn, path: str) -> None:
    """A hand-edited link: the error page says what is wrong, never a server error."""
    admin = await signed_in("admin")
    refused = await admin.get(path)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert said(refused).startswith("链接中的")
