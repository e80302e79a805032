"""Where the WeCom access token is cached between calls: the interface the client owns.

The client decides freshness; a cache only stores `(token, expires_at)`.
`invalidate(token)` clears the entry only if it still holds that token, so a
caller that saw an old token rejected never throws away a newer one that
another caller (or process) already fetched. A saved connection's cache, shared by every process
through the database, is `kefu.accounts.token_cache.ConnectionTokenCache`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TokenCache(Protocol):
    async def get(self) -> tuple[str, datetime] | None: ...

    async def put(self, token: str, expires_at: datetime) -> None: ...

    async def invalidate(self, token: str) -> None: ...


class MemoryTokenCache:
    """For one process and short lives: CLI checks before a connection is saved, tests."""

    def __init__(self) -> None:
        self._entry: tuple[str, datetime] | None = None

    async def get(self) -> tuple[str, datetime] | None:
        return self._entry

    async def put(self, token: str, expires_at: datetime) -> None:
        self._entry = (token, expires_at)

    async def invalidate(self, token: str) -> None:
        if self._entry is not None and self._entry[0] == token:
            self._entry = None
