"""A saved connection's WeCom access token, cached on its row so every process and job shares it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from kefu.accounts.models import Connection
from kefu.db import Database, database_time
from kefu.logs import get_logger
from kefu.secretbox import SecretBox, SecretDecryptError

log = get_logger(__name__)


class ConnectionTokenCache:
    """The token of one connection, sealed on `connections.access_token_enc` (+ `access_token_expires_at`).

    Every process and job shares it, so a token fetched once serves them all.
    """

    def __init__(self, db: Database, connection_id: int, secrets: SecretBox) -> None:
        self._db = db
        self._connection_id = connection_id
        self._secrets = secrets

    async def get(self) -> tuple[str, datetime] | None:
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Connection.access_token_enc, Connection.access_token_expires_at).where(
                        Connection.id == self._connection_id
                    )
                )
            ).first()
        if row is None or row.access_token_enc is None or row.access_token_expires_at is None:
            return None
        token = self._open(row.access_token_enc)
        return None if token is None else (token, row.access_token_expires_at)

    async def put(self, token: str, expires_at: datetime) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id == self._connection_id)
                .values(
                    access_token_enc=self._secrets.seal(token),
                    access_token_expires_at=expires_at,
                    token_fetch_until=None,
                )
            )

    async def claim_fetch(self, for_s: float) -> bool:
        """Take the right to call gettoken for `for_s` seconds of database time, unless another
        process holds it (a claim left by a process that died runs out on its own)."""
        now = database_time(self._db.dialect)
        async with self._db.write() as session:
            result = await session.execute(
                update(Connection)
                .where(
                    Connection.id == self._connection_id,
                    or_(Connection.token_fetch_until.is_(None), Connection.token_fetch_until < now),
                )
                .values(token_fetch_until=database_time(self._db.dialect, for_s))
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def release_fetch(self) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(Connection).where(Connection.id == self._connection_id).values(token_fetch_until=None)
            )

    async def invalidate(self, token: str) -> None:
        async with self._db.write() as session:
            stored = (
                await session.execute(
                    select(Connection.access_token_enc).where(Connection.id == self._connection_id)
                )
            ).scalar_one_or_none()
            # Fernet ciphertexts differ on every seal: compare plaintexts, inside the write
            # transaction so a token stored meanwhile by another process is not cleared.
            if stored is None or self._open(stored) not in (token, None):
                return
            await session.execute(
                update(Connection)
                .where(Connection.id == self._connection_id)
                .values(access_token_enc=None, access_token_expires_at=None)
            )

    def _open(self, sealed: str) -> str | None:
        try:
            return self._secrets.open(sealed)
        except SecretDecryptError:
            # Sealed under another KEFU_SECRET_KEY: a cache miss, the next put overwrites it.
            log.warning("wecom.token_cache.unreadable", connection_id=self._connection_id)
            return None
