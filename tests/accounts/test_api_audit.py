"""The REST API's changes land in the audit log under `api:<token name>`."""

from __future__ import annotations

from sqlalchemy import select

from kefu.accounts import kf_accounts
from kefu.audit.models import AuditEvent
from kefu.runtime import Runtime
from tests.accounts.kf_fixtures import KfWorld
from tests.factories import api_client


async def test_settings_and_account_changes_name_the_token(rt: Runtime, kf: KfWorld) -> None:
    async with rt.db.read() as session:
        account = (await kf_accounts.list_all_accounts(session, kf.connection.id))[0]
    async with api_client(rt, token_name="erp") as api:
        settings = (await api.get(f"/api/v1/accounts/{account.id}/settings")).json()
        settings["queue"]["default_max_sessions"] = 6
        assert (await api.put(f"/api/v1/accounts/{account.id}/settings", json=settings)).status_code == 200
        assert (await api.patch(f"/api/v1/accounts/{account.id}", json={"enabled": False})).status_code == 200
        checked = await api.post(f"/api/v1/connections/{kf.connection.id}/check")
        assert checked.status_code == 200

    async with rt.db.read() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    by_action = {row.action: row for row in rows if row.actor == "api:erp"}
    assert by_action["account.settings.update"].changes == {"queue.default_max_sessions": [10, 6]}
    assert by_action["account.update"].changes == {"enabled": [True, False]}
    assert "connection.check" not in by_action  # the check found nothing new: nothing to record
