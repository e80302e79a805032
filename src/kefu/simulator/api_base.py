"""The table of WeCom endpoints the simulator answers, filled by `api_corp` and `api_kf`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from kefu.simulator.faults import Faults
from kefu.simulator.state import Corp, World


@dataclass
class Call:
    """One API call, as a handler sees it (the world lock is held)."""

    world: World
    faults: Faults
    corp: Corp  # the corp of the access token (for gettoken: of the corpid)
    body: dict[str, Any]
    query: Mapping[str, str]
    ip: str
    upload: tuple[str, str, bytes] | None = None  # media/upload: (filename, content_type, data)

    @property
    def now(self) -> int:
        return self.world.now()


Handler = Callable[[Call], "dict[str, Any] | Response"]


@dataclass
class Endpoint:
    path: str  # after /cgi-bin/, e.g. "kf/send_msg"
    methods: tuple[str, ...]
    handler: Handler
    auth: str = "token"  # "token": ?access_token=; "secret": ?corpid=&corpsecret= (gettoken)
    body: str = "json"  # json | none | multipart


ENDPOINTS: dict[str, Endpoint] = {}


def endpoint(
    path: str, *, methods: tuple[str, ...] = ("POST",), auth: str = "token", body: str = "json"
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ENDPOINTS[path] = Endpoint(path, methods, handler, auth, body)
        return handler

    return register
