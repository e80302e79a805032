"""`SimDep`: the handler's Simulator, found on the app (routes are built once per process
and shared by every simulator app, which keeps starting one cheap)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kefu.simulator.core import Simulator


def get_simulator(request: Request) -> Simulator:
    return request.app.state.simulator  # type: ignore[no-any-return]


SimDep = Annotated[Simulator, Depends(get_simulator)]
