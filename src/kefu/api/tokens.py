"""API bearer tokens: shown once when created, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.api.models import ApiToken
from kefu.audit.log import record
from kefu.db.base import row_id_of
from kefu.errors import Conflict, Invalid, NotFound

TOKEN_PREFIX = "kefu_"  # noqa: S105 — a visible prefix, not a secret
NAME_PATTERN = re.compile(r"^\S.{0,63}$")
# Recording every use would turn each API read into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    session: AsyncSession, *, name: str, now: datetime, actor: str | None = None
) -> tuple[ApiToken, str]:
    """Store a new token's hash; returns the row and the token itself (the only time it exists).
    With an `actor` the creation is audited (its name and prefix, never the token)."""
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise Invalid("token name must be 1-64 characters", "name_length", {"max": 64})
    if await session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(
            f"a token named {name!r} already exists; revoke it first or pick another name",
            "name_taken",
            {"name": name},
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), prefix=token[:12], created_at=now)
    session.add(row)
    await session.flush()
    if actor is not None:
        await record(
            session,
            actor=actor,
            action="token.create",
            target=f"token:{name}",
            after={"prefix": row.prefix},
            now=now,
        )
    return row, token


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.id))).all())


async def revoke_token(session: AsyncSession, name_or_id: str, *, actor: str | None = None) -> ApiToken:
    query = select(ApiToken).where(ApiToken.name == name_or_id)
    row = await session.scalar(query)
    if row is None and (token_id := row_id_of(name_or_id)) is not None:
        row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token named {name_or_id!r}", "token_not_found", {"name": name_or_id})
    if actor is not None:
        await record(
            session,
            actor=actor,
            action="token.revoke",
            target=f"token:{row.name}",
            before={"prefix": row.prefix},
        )
    await session.delete(row)
    return row


async def find_token(session: AsyncSession, token: str) -> ApiToken | None:
    """The row whose hash matches `token`, or None."""
    digest = hash_token(token)
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash already; compare again in constant time for good measure.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


def due_for_last_used(row: ApiToken, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
