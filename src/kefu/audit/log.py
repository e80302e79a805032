"""Record a change and read the log back.

`record()` takes the whole before and after state (dicts, possibly nested) and keeps only the
fields that changed, flattened to dotted paths, so a settings form that saves forty fields logs
the two the admin touched. Secrets (keys, tokens, passwords) are never written, only that they
changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.models import AuditEvent

SECRET_WORDS = ("secret", "token", "password", "aes_key", "api_key", "encoding_aes")
MASK = "(changed)"


def _is_secret(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].lower()
    return any(word in leaf for word in SECRET_WORDS)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{dotted.field: [before, after]} for every field whose value differs."""
    # (An absent side is no fields, not one empty-named field.)
    old = _flatten(before) if before else {}
    new = _flatten(after) if after else {}
    changes: dict[str, list[Any]] = {}
    for path in sorted(old.keys() | new.keys()):
        was, now = old.get(path), new.get(path)
        if was == now:
            continue
        changes[path] = [MASK, MASK] if _is_secret(path) else [was, now]
    return changes


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent | None:
    """Add an event in the caller's transaction (it lands with the change or not at all).
    An update that changed nothing records nothing; a create or delete always records."""
    changes = diff(before, after)
    if not changes and before is not None and after is not None:
        return None
    event = AuditEvent(
        at=now or datetime.now(UTC),
        actor=actor[:96],
        action=action[:64],
        target=target[:128],
        changes=changes,
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    limit: int = 50,
    offset: int = 0,
    actor: str | None = None,
    target: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """The newest first, with the total count for paging."""
    query = select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if target:
        query = query.where(AuditEvent.target.startswith(target))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows.all()), int(total or 0)
