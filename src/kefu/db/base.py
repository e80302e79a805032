"""Declarative base and the column types every model shares."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Update,
    bindparam,
    func,
    inspect,
    literal,
    literal_column,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.orm.attributes import set_committed_value

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Every id column is INTEGER: 64-bit in SQLite but 32-bit in PostgreSQL, so an id past 2³¹−1 was
# a 500 there (found by schemathesis on PostgreSQL). A number past the smaller range, from a URL
# or a body, must be refused before a query (SQLite raises OverflowError, PostgreSQL an
# out-of-range error); a row can never have it on PostgreSQL anyway.
MAX_ID = 2**31 - 1
_ID_DIGITS = len(str(MAX_ID))


def row_id_of(text: str) -> int | None:
    """`text` as a row id (ASCII digits, 1..MAX_ID), or None: what people type or a hand-edited
    form sends may be "²" (str.isdigit, but not int) or past the id columns' range."""
    if not (0 < len(text) <= _ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def unstorable_char(text: str) -> str | None:
    """The first character of `text` no text column can store, or None: NUL (PostgreSQL refuses
    it; SQLite stored it) or an unpaired surrogate (a JSON or YAML "\\ud800" escape: text, but
    not UTF-8, so neither database nor WeCom can take it)."""
    if text.isascii():
        return "\x00" if "\x00" in text else None
    return next((c for c in text if c == "\x00" or "\ud800" <= c <= "\udfff"), None)


def storable(value: Any) -> bool:
    """Whether every string in `value` (nested lists and dicts too, keys included) fits a text column."""
    if isinstance(value, str):
        return unstorable_char(value) is None
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True


def _json_text(value: Any) -> str:
    """A JSON column's text: orjson (UTF-8 as is, no spaces) costs a fifth of `json.dumps`, and
    JSON columns are written and read several times per customer message. Non-string keys
    become strings, as `json.dumps` made them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# Every engine reads and writes JSON columns the same way (json.loads reads what either wrote).
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no zones), always returned aware in UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps the text SQLAlchemy's DATETIME writes ("YYYY-MM-DD HH:MM:SS.ffffff"):
        # written here in one step, in C, instead of process_bind_param and then DATETIME's
        # %-format (every statement binds several times; ~3 % of a message's CPU).
        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text


def database_time(dialect: str, later_s: float = 0.0) -> ColumnElement[Any]:
    """The database's own clock (+ `later_s`), comparable with a UTCDateTime column: real time
    that every process and host agrees on, which no move of Kefu's domain clock (tests, the
    simulator) shifts. For leases and claims, never for business time."""
    if dialect == "postgresql":
        return func.timezone("UTC", func.clock_timestamp()) + literal(timedelta(seconds=later_s))
    # SQLite keeps datetimes as text, compared as text: write exactly SQLAlchemy's format
    # (microseconds, 6 digits; SQLite's %f gives milliseconds, so 3 zeros are added). Constants
    # in the SQL, not bound: the job claim has one of these per lease, and binds cost per run.
    later = f"{later_s:+.3f} seconds"
    return func.strftime(sql_text("%Y-%m-%d %H:%M:%f"), sql_text("now"), sql_text(later)).concat(
        sql_text("000")
    )


def sql_text(value: str) -> ColumnElement[str]:
    """A string constant written into the SQL itself (quoted), not bound at every execution: for
    values fixed in the code (a task's name, a format) in statements built once and run often."""
    return literal_column("'" + value.replace("'", "''") + "'", String())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def write_row(session: Session, row: Base, **values: Any) -> None:
    """Set `values` on a loaded row with ONE Core UPDATE by its primary key (of the columns whose
    value differs), now, and on the object as its committed state (not dirty): the ORM's unit of
    work for one changed row cost several times the UPDATE itself (`benchmarks/hot_path.py
    --count` counts the flushes). For hot paths; the object stays true to the row, unlike a bare
    statement on `table_of`. A row not in the database yet gets them as attributes, which its
    INSERT takes. Not inside a SAVEPOINT that may roll back (the object would keep the values),
    and a JSON value written so is replaced, never changed in place."""
    state = inspect(row)
    identity = state.identity if state.persistent else None
    if identity is None:
        for key, value in values.items():
            setattr(row, key, value)
        return
    # Only what differs, as the ORM's flush would: fewer values to bind, no statement for none.
    values = {key: value for key, value in values.items() if getattr(row, key) != value}
    if not values:
        return
    session.execute(
        _write_row_statement(cast(Table, state.mapper.local_table), tuple(sorted(values))),
        {"row_id": identity[0], **{f"new_{key}": value for key, value in values.items()}},
    )
    for key, value in values.items():
        set_committed_value(row, key, value)


@functools.cache
def _write_row_statement(table: Table, keys: tuple[str, ...]) -> Update:
    # Built once per table and set of columns; bind names differ from the columns set.
    (key_column,) = table.primary_key.columns
    return (
        update(table)
        .where(key_column == bindparam("row_id"))
        .values({key: bindparam(f"new_{key}", type_=table.c[key].type) for key in keys})
    )


def table_of(model: type[Base]) -> Table:
    """A model's table, to build a hot path's statements on: a statement on the table runs as
    Core, at about a fifth of the CPU of the same statement on the ORM entity, which goes through
    the ORM's bulk persistence and identity-map synchronisation (`benchmarks/hot_path.py`).
    Only for rows no ORM object in the same session reads afterwards: it is not refreshed."""
    return cast(Table, model.__table__)
