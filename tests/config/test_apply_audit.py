"""`kefu config apply` lands in the audit log like the console: each connection, account,
servicer list and settings change under the actor `config:<file name>`, and an apply that
changes nothing records nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEvent
from kefu.config.apply import apply_config
from kefu.config.loader import load_config
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.config import test_accounts_apply
from tests.config.test_schema import ENV, EXAMPLE

pytestmark = pytest.mark.db
example_corp = test_accounts_apply.example_corp


async def audit_log(rt: Runtime) -> list[tuple[str, str]]:
    async with rt.db.read() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    return [(row.actor, row.action) for row in rows]


async def test_apply_is_audited_once(rt: Runtime, example_corp: SimulatorServer) -> None:
    await apply_config(rt, load_config(EXAMPLE, ENV))

    first = await audit_log(rt)
    actor = f"config:{EXAMPLE.name}"
    assert {a for a, _ in first} == {actor}
    assert {
        "connection.create",
        "account.create",
        "account.servicers.update",
        "account.settings.update",
    } <= {action for _, action in first}

    await apply_config(rt, load_config(EXAMPLE, ENV))
    assert await audit_log(rt) == first
