"""Where the WeCom access token is cached between calls: the interface the client owns.

The client decides freshness; a cache only stores `(token, expires_at)`, and says who may fetch
a new one: `claim_fetch` lets one caller at a time (across processes, for a shared cache) call
gettoken while the others wait for its token — WeCom may revoke a token when a new one is
fetched, so two fetching side by side could keep revoking each other's. `put` ends the claim.
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

    async def claim_fetch(self, for_s: float) -> bool: ...

    async def release_fetch(self) -> None: ...


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

    async def claim_fetch(self, for_s: float) -> bool:
        return True  # one process: the client's lock already lets one caller fetch

    async def release_fetch(self) -> None:
        return None
