"""A console POST's result kept for the page it redirects to (Post/Redirect/Get): a reload of
that page then shows the result again instead of sending the POST again. Short results go in
the redirect's URL (`?saved=k1`); these are the ones too long for it (an import's bad rows)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.api.models import ConsoleNotice

# Long enough to read the result and reload; the session's own notices older than this go
# when it leaves the next one (and all of them with the session).
NOTICE_LIFETIME = timedelta(hours=1)


async def leave_notice(session: AsyncSession, session_id: int, body: dict[str, Any], now: datetime) -> str:
    """Keep `body` for the console session `session_id`; the key its redirect carries."""
    await session.execute(
        delete(ConsoleNotice).where(
            ConsoleNotice.session_id == session_id, ConsoleNotice.created_at <= now - NOTICE_LIFETIME
        )
    )
    key = secrets.token_urlsafe(16)
    session.add(ConsoleNotice(key=key, session_id=session_id, created_at=now, body=body))
    return key


async def read_notice(session: AsyncSession, session_id: int, key: str) -> dict[str, Any] | None:
    """The body left under `key` by this session, or None (another session's, or gone)."""
    body: dict[str, Any] | None = await session.scalar(
        select(ConsoleNotice.body).where(ConsoleNotice.key == key, ConsoleNotice.session_id == session_id)
    )
    return body
