"""A file uploaded to the console (a knowledge base or CRM import, an account's avatar) is spooled
to a temporary file past 1 MB (Starlette); each is closed when the request is done with it, also
when the form is refused or posted where no file is expected. They were left to the garbage
collector, which closes an open file with a ResourceWarning: turned into an error here."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import make_account, make_connection

pytestmark = pytest.mark.db

# Past Starlette's 1 MB spool, so the upload is a real file on disk; a valid CSV.
BIG_CSV = ("id,question,answer\n" + "".join(f"k{i},问题{i},{'答' * 1500}\n" for i in range(250))).encode()


@contextmanager
def no_file_left_open() -> Iterator[None]:
    """Fails when a file is closed by the garbage collector inside the block (ResourceWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == [], leaked


async def _account_id(rt: Runtime) -> int:
    connection, _ = await make_connection(rt)
    return (await make_account(rt, connection)).id


Post = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def _upload(path: str, field: str = "file") -> Post:
    async def post(client: httpx.AsyncClient, csrf: str) -> httpx.Response:
        return await client.post(
            path, data={"csrf_token": csrf}, files={field: ("kb.csv", BIG_CSV, "text/csv")}
        )

    return post


async def test_an_imported_files_temporary_file_is_closed(rt: Runtime, signed_in: SignIn) -> None:
    assert len(BIG_CSV) > 1024 * 1024
    account_id = await _account_id(rt)
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/knowledge"))
    for path, field, status in (
        (f"/console/knowledge/{account_id}/import", "file", 303),
        ("/console/crm/customers/import", "file", 422),  # no external_id column: read, then refused
        # The avatar is not an image and the form's settings are incomplete: refused, after reading.
        (f"/console/accounts/{account_id}/settings/basic", "avatar", 422),
        (f"/console/accounts/{account_id}/settings/hours", "file", 422),  # a file where none is expected
    ):
        with no_file_left_open():
            answer = await _upload(path, field)(admin, csrf)
        assert answer.status_code == status, (path, answer.status_code)


async def test_a_refused_forms_temporary_file_is_closed(rt: Runtime, signed_in: SignIn) -> None:
    account_id = await _account_id(rt)
    admin = await signed_in("admin")
    with no_file_left_open():
        refused = await _upload(f"/console/knowledge/{account_id}/import")(admin, "not-the-token")
    assert refused.status_code == 403
    anonymous = httpx.AsyncClient(transport=admin._transport, base_url="http://kefu.test")
    async with anonymous:
        with no_file_left_open():
            login = await _upload("/console/login")(anonymous, "none")
        assert login.status_code == 403
