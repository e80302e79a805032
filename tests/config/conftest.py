from tests.accounts.fixtures import _no_check_pauses, acli, cli, corp  # noqa: F401 — shared fixtures
