"""Run the simulator in a background thread on a free loopback port (tests, demo, benchmarks).

with SimulatorServer(clock=clock) as sim:
    httpx.get(f"{sim.url}/cgi-bin/gettoken", params=...)
"""

from __future__ import annotations

from typing import Any

import httpx

from kefu.clock import Clock
from kefu.simulator.app import create_simulator_app
from kefu.simulator.callbacks import shared_ssl_context
from kefu.simulator.core import Simulator
from kefu.simulator.state import World
from kefu.threaded_server import ThreadedServer


class SimulatorServer:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_timeout_s: float = 5.0,
        control_token: str | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.control_token = control_token  # required by /_sim/... when set (off loopback)
        self.app = create_simulator_app(
            clock=self.clock, callback_timeout_s=callback_timeout_s, control_token=control_token
        )
        self.simulator: Simulator = self.app.state.simulator
        self._server = ThreadedServer(self.app, host=host, port=port, name="wecom-simulator")
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def state(self) -> World:
        return self.simulator.world

    def start(self) -> SimulatorServer:
        try:
            self._server.start(timeout_s=10)
        except RuntimeError as exc:
            raise RuntimeError("the WeCom simulator did not start") from exc
        return self

    def stop(self) -> None:
        self._server.stop()
        self.simulator.close()
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- conveniences for tests and the demo (they go through the control API over HTTP) --

    def control(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        """Call `/_sim/api/<path>`; raises `httpx.HTTPStatusError` (with the detail) on failure."""
        if self._http is None:
            auth = {"Authorization": f"Bearer {self.control_token}"} if self.control_token else {}
            self._http = httpx.Client(
                base_url=self.url, timeout=30, trust_env=False, verify=shared_ssl_context(), headers=auth
            )
        response = self._http.request(
            method, f"/_sim/api/{path.lstrip('/')}", json=json, params=params or None
        )
        if response.is_error:
            raise httpx.HTTPStatusError(
                f"{method} {path}: {response.status_code} {response.text}",
                request=response.request,
                response=response,
            )
        return response.json()

    def flush_callbacks(self, timeout_s: float = 10.0) -> bool:
        """Wait until every callback delivery has finished (delivered, failed or dropped)."""
        return self.simulator.dispatcher.wait_idle(timeout_s)
