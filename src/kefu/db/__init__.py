"""Database access: one engine per process, explicit read and write sessions."""

from kefu.db.base import Base, UTCDateTime, database_time
from kefu.db.engine import Database, on_commit

__all__ = ["Base", "Database", "UTCDateTime", "database_time", "on_commit"]
