"""Database access: one engine per process, explicit read and write sessions."""

from kefu.db.base import Base, UTCDateTime, database_time, sql_text, table_of, write_row
from kefu.db.engine import Database, before_commit, on_commit
from kefu.db.rows import get_row

__all__ = [
    "Base",
    "Database",
    "UTCDateTime",
    "before_commit",
    "database_time",
    "get_row",
    "on_commit",
    "sql_text",
    "table_of",
    "write_row",
]
