from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jobs import sample_tasks


@pytest.fixture(autouse=True)
def _fresh_task_state() -> Iterator[None]:
    sample_tasks.reset()
    yield
    sample_tasks.reset()
