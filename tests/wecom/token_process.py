"""A Kefu process that needs a connection's access token, for the cross-process token test.

    python -m tests.wecom.token_process DATABASE_URL API_BASE CLOCK_ISO CONNECTION_ID SYNC_DIR

Lines up with the others (SYNC_DIR/ready-<pid>, then waits for SYNC_DIR/go), makes three WeCom
calls through the connection's client, and exits 0 when all succeeded.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from pydantic import SecretStr

from kefu.accounts.models import Connection
from kefu.accounts.service import wecom_client
from kefu.clock import Clock
from kefu.db import Database
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.settings import Settings
from tests.jobs.worker_process import wait_for_go


async def main(url: str, api_base: str, clock_iso: str, connection_id: int) -> None:
    clock = Clock(start=datetime.fromisoformat(clock_iso))
    clock.freeze()
    settings = Settings(
        env="development", database_url=url, secret_key=SecretStr("test-secret-key"), wecom_api_base=api_base
    )
    rt = Runtime(
        settings=settings, db=Database(url), clock=clock, secrets=SecretBox(settings.secret_key_bytes())
    )
    try:
        async with rt.db.read() as session:
            connection = await session.get(Connection, connection_id)
        assert connection is not None
        client = wecom_client(rt, connection)
        for _ in range(3):
            await client.account_list()
    finally:
        await rt.close()


if __name__ == "__main__":
    database_url, api_base, clock_iso, connection_id, sync_dir = sys.argv[1:6]
    wait_for_go(sync_dir)
    asyncio.run(main(database_url, api_base, clock_iso, int(connection_id)))
