"""What every job, route and command needs, built once per process and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from kefu.clock import Clock, clock_from_settings
from kefu.db import Database
from kefu.http_client import HttpClient
from kefu.secretbox import SecretBox
from kefu.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    secrets: SecretBox
    # The webhook's and the LLM's: one pool of kept-alive connections for the process, in the
    # event loop the Runtime serves (one per process: `kefu serve`'s, `kefu worker`'s, a test's).
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))
    # WeCom's API: one or two calls per customer message (kefu.http_client says why not httpx).
    wecom_http: HttpClient = field(default_factory=lambda: HttpClient(timeout_s=10.0))

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> Runtime:
        return cls(
            settings=settings,
            db=db or Database(settings.database_url),
            clock=clock or clock_from_settings(settings),
            secrets=SecretBox(settings.secret_key_bytes()),
            http=httpx.AsyncClient(timeout=settings.wecom_timeout_s),
            wecom_http=HttpClient(timeout_s=settings.wecom_timeout_s),
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.wecom_http.close()
        await self.db.dispose()
