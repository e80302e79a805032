from tests.accounts.fixtures import _no_check_pauses, acli, cli, corp  # noqa: F401 — shared fixtures
from tests.accounts.kf_fixtures import kf  # noqa: F401 — accounts under a saved connection
