"""`write_row`: a loaded row's change as one UPDATE now, the object left clean (no flush owed);
only the columns that differ; a row not in the database yet takes the values as attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from kefu.db import write_row


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


def test_a_loaded_row_is_written_at_once_and_left_clean(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'notes.db'}")
    _Base.metadata.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    with Session(engine) as session, session.begin():
        session.add(Note(id=1, title="a", body={"n": 0}))
    with Session(engine) as session, session.begin():
        note = session.get(Note, 1)
        assert note is not None
        statements.clear()
        write_row(session, note, title="a", body={"n": 1})  # the title is unchanged
        assert statements == ["UPDATE notes SET body=? WHERE notes.id = ?"]
        assert note.body == {"n": 1} and not session.dirty
        write_row(session, note, title="a", body={"n": 1})  # nothing differs: no statement
        assert len(statements) == 1
    with Session(engine) as session:
        assert session.scalars(select(Note.body)).one() == {"n": 1}


def test_a_row_not_yet_in_the_database_takes_the_values_for_its_insert(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'notes.db'}")
    _Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        note = Note(id=2, title="draft", body={})
        session.add(note)
        write_row(session, note, title="kept", body={"n": 2})
    with Session(engine) as session:
        assert session.execute(select(Note.title, Note.body)).one() == ("kept", {"n": 2})
