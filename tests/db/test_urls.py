"""The database URL a user gives reaches the driver whole, password included."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from kefu.db.engine import async_url, sync_url


def test_a_postgresql_password_reaches_both_drivers() -> None:
    # SQLAlchemy's str(url) masks the password as "***"; the driver would then send that.
    given = "postgresql://kefu:p%40ss%2Fw0rd@db.internal:5432/kefu"
    for mapped in (async_url(given), sync_url(given)):
        url = make_url(mapped)
        assert url.drivername == "postgresql+psycopg"
        assert url.password == "p@ss/w0rd"
        assert (url.username, url.host, url.port, url.database) == ("kefu", "db.internal", 5432, "kefu")


def test_sqlite_urls_map_to_their_drivers() -> None:
    assert async_url("sqlite:///data/kefu.db") == "sqlite+aiosqlite:///data/kefu.db"
    assert sync_url("sqlite+aiosqlite:///data/kefu.db") == "sqlite:///data/kefu.db"
