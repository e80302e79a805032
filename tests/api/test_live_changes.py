"""Changes made by the CLI (another "process") are seen by a running server on its next request."""

from __future__ import annotations

import json

import httpx
import pytest

from kefu.api.tokens import create_token
from kefu.app import create_app
from kefu.runtime import Runtime
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, ACliFn

pytestmark = pytest.mark.db


async def test_server_sees_cli_changes_without_restart(rt: Runtime, acli: ACliFn) -> None:
    async with rt.db.write() as s:
        _, token = await create_token(s, name="tests", now=rt.clock.now())
    app = create_app(runtime=rt, run_worker=False)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test") as api:
        assert (await api.get("/api/v1/connections", headers=auth)).json() == []

        added = await acli(
            "connections",
            "add",
            "--name",
            "shop",
            "--corp-id",
            "ww01",
            "--secret",
            "s",
            "--token",
            CB_TOKEN,
            "--aes-key",
            AES_KEY,
            "--no-check",
            "--json",
        )
        assert added.exit_code == 0, added.output
        cid = json.loads(added.stdout)["connection"]["id"]
        seen = (await api.get("/api/v1/connections", headers=auth)).json()
        assert [c["name"] for c in seen] == ["shop"]

        assert (await acli("connections", "update", str(cid), "--name", "shop2")).exit_code == 0
        assert (await api.get(f"/api/v1/connections/{cid}", headers=auth)).json()["name"] == "shop2"

        assert (await acli("tokens", "revoke", "tests")).exit_code == 0
        assert (await api.get("/api/v1/connections", headers=auth)).status_code == 401
