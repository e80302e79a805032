"""Three Kefu processes needing a connection's access token at the same moment fetch it once:
one claims the fetch (database time) and the others wait for its token. With a WeCom that revokes
a token when a new one is fetched (the simulator's `revoke_previous_tokens`), fetching side by side
would have them revoke each other's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.factories import ConnectionKeys, make_connection, random_aes_key
from tests.jobs.helpers import eventually
from tests.jobs.test_processes import spawn

pytestmark = pytest.mark.db
PROCESSES = 3


def tokens_issued(simulator: SimulatorServer, corpid: str) -> int:
    return sum(t.corpid == corpid for t in simulator.state.tokens.values())


async def test_processes_starting_together_fetch_one_token(
    rt: Runtime, simulator: SimulatorServer, tmp_path: Path
) -> None:
    corp = simulator.control("POST", "corps", {"name": "青禾家电"})
    simulator.control("PATCH", "settings", {"revoke_previous_tokens": True})
    keys = ConnectionKeys(corp["corpid"], corp["secret"], "tok123", random_aes_key())
    connection, _ = await make_connection(rt, keys=keys)
    argv = ["-m", "tests.wecom.token_process", rt.db.url, simulator.url, rt.clock.now().isoformat()]
    processes = [spawn(*argv, str(connection.id), str(tmp_path)) for _ in range(PROCESSES)]
    try:
        await eventually(lambda: len(list(tmp_path.glob("ready-*"))) == PROCESSES, within_s=60)
        (tmp_path / "go").touch()
        for process in processes:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=60)
            assert process.returncode == 0, stderr.decode()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert tokens_issued(simulator, corp["corpid"]) == 1
