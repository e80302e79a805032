import pytest

from kefu.db.migrate import model_differences, pending

pytestmark = pytest.mark.db


def test_migrations_match_models(database_url: str) -> None:
    assert not pending(database_url)
    assert model_differences(database_url) == []
