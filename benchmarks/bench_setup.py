"""What the database benchmarks share: a scratch Kefu (its settings and runtime), and whether PostgreSQL
answers (a benchmark skips its PostgreSQL half, saying why, when it does not)."""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import create_engine, text

from kefu.clock import Clock
from kefu.db.migrate import upgrade
from kefu.runtime import Runtime
from kefu.settings import Settings


def scratch_settings(database_url: str) -> Settings:
    """A development Kefu on `database_url` that can reach no WeCom (a closed loopback port)."""
    return Settings(
        env="development",
        database_url=database_url,
        secret_key=SecretStr("benchmark-secret-key"),
        wecom_api_base="http://127.0.0.1:9",
        public_url="http://kefu.bench",
    )


def scratch_runtime(database_url: str, now: datetime) -> Runtime:
    """A Kefu runtime on a migrated `database_url`, its clock frozen at `now`."""
    upgrade(database_url)
    clock = Clock(start=now)
    clock.freeze()
    return Runtime.build(scratch_settings(database_url), clock=clock)


def pg_available(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else why not."""
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None
