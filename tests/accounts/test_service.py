"""Connection service: validation, check-then-store in one transaction, accounts, secrets at rest."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from structlog.testing import capture_logs

from kefu.accounts import connection_ops, service
from kefu.accounts.models import Connection, KfAccount
from kefu.errors import Conflict, Invalid, NotFound
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, Corp

pytestmark = pytest.mark.db


async def _create(rt: Runtime, corp: Corp, **overrides: object) -> tuple[Connection, service.ConnectionCheck]:
    values: dict = {
        "name": "qinghe",
        "corp_id": corp.corpid,
        "secret": corp.secret,
        "callback_token": CB_TOKEN,
        "aes_key": AES_KEY,
    } | overrides
    return await connection_ops.create_connection(rt, **values)


async def _jobs(rt: Runtime) -> list[Job]:
    async with rt.db.read() as s:
        return list((await s.scalars(select(Job).order_by(Job.id))).all())


async def test_create_stores_sealed_secrets_accounts_and_one_sync_and_servicer_read_per_account(
    rt: Runtime, corp: Corp
) -> None:
    connection, check = await _create(rt, corp)

    assert check.ok and connection.last_check_ok is True
    async with rt.db.read() as s:
        row = (await s.execute(text("SELECT * FROM connections"))).mappings().one()
        accounts = await service.list_accounts(s, connection.id)
    stored = " ".join(str(v) for v in row.values())
    for plaintext in (corp.secret, CB_TOKEN, AES_KEY):
        assert plaintext not in stored  # encrypted at rest
    assert service.load_connection_secrets(rt, connection) == service.ConnectionSecrets(
        corp.secret, CB_TOKEN, AES_KEY
    )
    assert [a.open_kfid for a in accounts] == corp.open_kfids  # the unmanageable one is not stored
    assert all(a.connected_at == rt.clock.now() and a.authorized for a in accounts)
    jobs = await _jobs(rt)
    # A pull, and a read of the servicer list: routing needs the servicers before anyone asks for one.
    assert [(j.task, j.args, j.lock, j.queueing_lock) for j in jobs] == [
        job
        for a in accounts
        for job in (
            ("ingest.sync", {"account_id": a.id}, f"sync:{a.id}", f"sync:{a.id}"),
            ("accounts.refresh_servicers", {"account_id": a.id}, f"servicers:{a.id}", f"servicers:{a.id}"),
        )
    ]
    assert service.callback_url(rt.settings, connection) == f"http://kefu.test/wecom/callback/{connection.id}"


async def test_failed_check_saves_nothing_unless_asked(rt: Runtime, corp: Corp) -> None:
    with pytest.raises(connection_ops.CheckFailed) as refused:
        await _create(rt, corp, secret="wrong")
    assert refused.value.check.problem == "wrong_secret"
    assert "Nothing was saved" in refused.value.message
    async with rt.db.read() as s:
        assert await service.list_connections(s) == []

    connection, check = await _create(rt, corp, secret="wrong", check=False)
    assert connection.last_check_ok is False and connection.last_check_message == check.message
    assert await _jobs(rt) == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "has space", "connection name"),
        ("callback_token", "bad-token!", "1-32 letters or digits"),
        ("callback_token", "a" * 33, "1-32 letters or digits"),
        ("aes_key", "short", "43 letters or digits"),
        ("bootstrap", "sometimes", "skip, backfill"),
        ("corp_id", "", "企业ID"),
    ],
)
async def test_invalid_values_are_refused_in_words(
    rt: Runtime, corp: Corp, field: str, value: str, words: str
) -> None:
    with pytest.raises(Invalid, match=words):
        await _create(rt, corp, **{field: value})


async def test_names_are_unique(rt: Runtime, corp: Corp) -> None:
    await _create(rt, corp)
    with pytest.raises(Conflict, match="already exists"):
        await _create(rt, corp)


async def test_update_checks_only_new_credentials(
    rt: Runtime, corp: Corp, simulator: SimulatorServer
) -> None:
    connection, _ = await _create(rt, corp)
    client = service.wecom_client(rt, connection)
    await client.get_token()  # cached on the row, shared by every process
    rt.settings.wecom_api_base = "http://127.0.0.1:9"  # WeCom unreachable from here on

    # New callback keys and bootstrap need no WeCom call.
    updated, check = await connection_ops.update_connection(
        rt, connection.id, callback_token="newToken", aes_key="B" * 43, bootstrap="backfill", name="qh"
    )
    assert check is None and updated.name == "qh" and updated.bootstrap == "backfill"
    assert service.load_connection_secrets(rt, updated).callback_token == "newToken"
    assert updated.access_token_enc is not None

    # A new secret is checked first; unreachable → refused, nothing changed.
    with pytest.raises(connection_ops.CheckFailed, match="WeCom unreachable"):
        await connection_ops.update_connection(rt, connection.id, secret="other")
    rt.settings.wecom_api_base = simulator.url
    with pytest.raises(connection_ops.CheckFailed, match="Wrong secret"):
        await connection_ops.update_connection(rt, connection.id, secret="other")

    # Saved anyway on request: the failure is recorded and the old token forgotten.
    updated, check = await connection_ops.update_connection(rt, connection.id, secret="other", check=False)
    assert check is not None and check.problem == "wrong_secret"
    assert updated.last_check_ok is False and updated.access_token_enc is None
    assert service.load_connection_secrets(rt, updated).secret == "other"

    # Same values again: nothing to change, nothing checked.
    _, check = await connection_ops.update_connection(rt, connection.id, secret="other", bootstrap="backfill")
    assert check is None


async def test_recheck_and_refresh_follow_wecom(rt: Runtime, corp: Corp, simulator: SimulatorServer) -> None:
    connection, _ = await _create(rt, corp, secret="wrong", check=False)
    async with rt.db.write() as s:
        row = await s.get(Connection, connection.id)
        row.secret_enc = rt.secrets.seal(corp.secret)  # the admin fixed it in the file
    _, check = await connection_ops.recheck_connection(rt, connection.id)
    assert check.ok
    async with rt.db.read() as s:
        assert (await s.get(Connection, connection.id)).last_check_ok is True
        assert len(await service.list_accounts(s, connection.id)) == 2

    # WeCom withdraws one account and grants another: refresh_accounts follows.
    simulator.control("PUT", f"accounts/{corp.open_kfids[0]}/authorization", json={"authorized": False})
    simulator.control("PUT", f"accounts/{corp.unmanaged_kfid}/authorization", json={"authorized": True})
    rt.clock.advance(60)
    accounts = await service.refresh_accounts(rt, connection.id)

    state = {a.open_kfid: (a.authorized, a.manage_privilege) for a in accounts}
    assert state == {
        corp.open_kfids[0]: (False, False),
        corp.open_kfids[1]: (True, True),
        corp.unmanaged_kfid: (True, True),
    }
    new = next(a for a in accounts if a.open_kfid == corp.unmanaged_kfid)
    assert new.connected_at == rt.clock.now()  # its bootstrap boundary is when it arrived
    assert {"account_id": new.id} in [j.args for j in await _jobs(rt)]


async def test_delete_takes_the_accounts_along(rt: Runtime, corp: Corp) -> None:
    connection, _ = await _create(rt, corp)
    await connection_ops.delete_connection(rt, connection.id)
    async with rt.db.read() as s:
        assert await service.list_connections(s) == []
        assert (await s.scalars(select(KfAccount))).all() == []
    with pytest.raises(NotFound):
        await connection_ops.delete_connection(rt, connection.id)


async def test_secrets_never_reach_the_logs(rt: Runtime, corp: Corp) -> None:
    with capture_logs() as logs:
        connection, _ = await _create(rt, corp)
        await connection_ops.update_connection(rt, connection.id, callback_token="newToken1", check=False)
        await service.refresh_accounts(rt, connection.id)
        await connection_ops.delete_connection(rt, connection.id)

    events = [entry["event"] for entry in logs]
    assert {"connection.created", "connection.updated", "connection.deleted"} <= set(events)
    for plaintext in (corp.secret, CB_TOKEN, AES_KEY, "newToken1"):
        assert plaintext not in repr(logs)
