"""The audit log keeps only what changed, never a secret, and lands with the change or not at all."""

from __future__ import annotations

import pytest

from kefu.audit.log import MASK, diff, list_events, record
from kefu.runtime import Runtime

pytestmark = pytest.mark.db


def test_diff_keeps_only_changed_fields_as_dotted_paths() -> None:
    before = {"name": "售后", "hours": {"mon": "09:00-18:00", "tue": "09:00-18:00"}, "queue": 50}
    after = {"name": "售后", "hours": {"mon": "09:00-20:00", "tue": "09:00-18:00"}, "queue": 50, "new": True}
    assert diff(before, after) == {"hours.mon": ["09:00-18:00", "09:00-20:00"], "new": [None, True]}


def test_diff_never_holds_a_secret() -> None:
    changes = diff(
        {"secret": "old-s", "llm": {"api_key": "sk-1"}}, {"secret": "new-s", "llm": {"api_key": "sk-2"}}
    )
    assert changes == {"llm.api_key": [MASK, MASK], "secret": [MASK, MASK]}
    assert "sk-" not in repr(changes) and "-s" not in repr(changes)


async def test_record_and_list_newest_first(rt: Runtime) -> None:
    async with rt.db.write() as session:
        await record(
            session, actor="console:alice", action="user.create", target="user:1", after={"role": "admin"}
        )
        unchanged = await record(
            session,
            actor="console:alice",
            action="account.update",
            target="account:1",
            before={"a": 1},
            after={"a": 1},
        )
        assert unchanged is None
        await record(
            session,
            actor="api:ops",
            action="account.update",
            target="account:1",
            before={"a": 1},
            after={"a": 2},
        )
    async with rt.db.read() as session:
        events, total = await list_events(session)
        assert total == 2
        assert [e.action for e in events] == ["account.update", "user.create"]
        assert events[0].changes == {"a": [1, 2]}
        only_alice, count = await list_events(session, actor="console:alice")
        assert count == 1 and only_alice[0].target == "user:1"
        by_target, _ = await list_events(session, target="account:")
        assert [e.actor for e in by_target] == ["api:ops"]


async def test_an_event_rolls_back_with_its_change(rt: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with rt.db.write() as session:
            await record(
                session, actor="cli", action="user.create", target="user:9", after={"role": "servicer"}
            )
            raise RuntimeError("the change failed")
    async with rt.db.read() as session:
        assert (await list_events(session))[1] == 0
