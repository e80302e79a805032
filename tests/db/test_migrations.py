from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.db.migrate import pending
from kefu.registry import model_differences, new_revision

pytestmark = pytest.mark.db


def test_migrations_match_models(database_url: str) -> None:
    assert not pending(database_url)
    assert model_differences(database_url) == []


def test_db_revision_autogenerates_against_every_model(tmp_path: Path) -> None:
    """`kefu db revision` hands the models to Alembic (kefu.db cannot import them): with models and
    migrations in step, the migration it writes changes nothing. (Written into tmp_path: a file in
    the real versions folder would be a second head for tests running beside this one.)"""
    written = Path(new_revision("nothing new", version_path=str(tmp_path)))
    assert written.parent == tmp_path
    body = written.read_text()
    assert "nothing new" in body
    upgrade = body[body.index("def upgrade()") : body.index("def downgrade()")]
    assert "op." not in upgrade  # no table or column to add: the metadata had every model
    assert "revision" in CliRunner().invoke(app, ["db", "revision", "--help"]).output
