"""A saved connection's WeCom access token, cached on its row so every process and job shares it.

Each process also remembers the last token it read or stored per connection (`_seen`), so a
WeCom call does not cost a database read: it is used only while it is well inside its
lifetime on Kefu's clock (`MEMO_MARGIN`, wider than the transport's own margin, so whenever the
transport would think the token stale it reads the row instead), and forgotten when WeCom
rejects it (`invalidate`) — which is how a token replaced by another process is noticed. The
key includes the connection's corp and sealed secret: changed credentials never reuse it.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from kefu.accounts.models import Connection
from kefu.clock import Clock
from kefu.db import Database, database_time
from kefu.logs import get_logger
from kefu.secretbox import SecretBox, SecretDecryptError

log = get_logger(__name__)

MEMO_MARGIN = timedelta(minutes=5)
_MemoKey = tuple[int, str]
_seen: weakref.WeakKeyDictionary[Database, dict[_MemoKey, tuple[str, datetime]]] = weakref.WeakKeyDictionary()


class ConnectionTokenCache:
    """The token of one connection, sealed on `connections.access_token_enc` (+ `access_token_expires_at`).

    Every process and job shares it, so a token fetched once serves them all.
    """

    def __init__(
        self,
        db: Database,
        connection_id: int,
        secrets: SecretBox,
        *,
        clock: Clock | None = None,
        credentials: str = "",
    ) -> None:
        """With `clock`, the process's memo of the token serves reads (`credentials` names what
        the token was issued for: corp and sealed secret); without, every read asks the row."""
        self._db = db
        self._connection_id = connection_id
        self._secrets = secrets
        self._clock = clock
        self._memo_key: _MemoKey = (connection_id, credentials)

    def _remember(self, entry: tuple[str, datetime] | None) -> None:
        memo = _seen.setdefault(self._db, {})
        if entry is None or self._clock is None:
            memo.pop(self._memo_key, None)
        else:
            memo[self._memo_key] = entry

    async def get(self) -> tuple[str, datetime] | None:
        if self._clock is not None:
            entry = _seen.get(self._db, {}).get(self._memo_key)
            if entry is not None and self._clock.now() < entry[1] - MEMO_MARGIN:
                return entry
        entry = await self._read()
        self._remember(entry)
        return entry

    async def _read(self) -> tuple[str, datetime] | None:
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
        self._remember((token, expires_at))

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
        self._remember(None)
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
