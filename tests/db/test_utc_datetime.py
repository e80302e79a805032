"""UTCDateTime on SQLite writes exactly the text SQLAlchemy's DATETIME writes: SQLite compares
datetimes as text, so rows written before the one-step bind, and `database_time`'s own text,
must order with the new ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, select, text
from sqlalchemy.dialects import sqlite

from kefu.db.base import UTCDateTime, database_time

SHANGHAI = timezone(timedelta(hours=8))
MOMENTS = [
    datetime(2026, 12, 7, 8, 5, 15, 819438, tzinfo=SHANGHAI),
    datetime(2026, 1, 1, 0, 0, 0, 0, tzinfo=UTC),  # no microseconds: still six digits
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC),  # a year of three digits: padded to four
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_the_text_is_sqlalchemys_datetime_text(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))


def test_a_naive_datetime_is_refused() -> None:
    bind = UTCDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 12, 7, 8, 0))


def test_rows_round_trip_aware_and_order_with_the_database_clock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    table = Table("times", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": i, "at": moment} for i, moment in enumerate(MOMENTS)])
        # Written the old way (DATETIME's own format), as rows of earlier versions are.
        connection.execute(text("INSERT INTO times (id, at) VALUES (9, '2026-12-07 00:05:15.000000')"))
        read = dict(connection.execute(select(table.c.id, table.c.at)).all())
        past = connection.execute(select(table.c.id).where(table.c.at < database_time("sqlite"))).scalars()
        earlier = connection.execute(select(table.c.id).where(table.c.at < MOMENTS[0])).scalars()
        assert sorted(past) == [0, 1, 2, 9]
        assert sorted(earlier) == [1, 2, 9]  # 00:05:15.000000 < 00:05:15.819438 UTC, as text
    assert [read[i] for i in range(3)] == MOMENTS
    assert all(moment.tzinfo is UTC for moment in read.values())
