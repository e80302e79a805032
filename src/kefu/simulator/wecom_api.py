"""`/cgi-bin/...`: WeCom's paths, methods and JSON shapes (wecom-kf-api.md §0, §1).

One route dispatches to the endpoint table (`api_base.ENDPOINTS`). Per call:
injected faults (latency, errcode, dropped response), authentication
(41001/40014/42001 for access tokens; 41002/41004/40013/40001 for gettoken;
60020 for the IP allow-list), then the handler under the world lock. Every
answer is HTTP 200 with `errcode`/`errmsg`; errors carry WeCom's hint suffix.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.simulator import api_corp, api_kf, sending
from kefu.simulator.api_base import ENDPOINTS, Call, Endpoint
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import WeComError, error_body
from kefu.simulator.state import Corp, World

# The modules whose @endpoint handlers fill ENDPOINTS.
HANDLER_MODULES = (api_corp, api_kf)
SEND_ENDPOINTS = ("kf/send_msg", "kf/send_msg_on_event")
DROP_FLAG = "sim_drop_response"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


def authenticate(world: World, request: Request, ep: Endpoint, ip: str) -> Corp:
    query = request.query_params
    if ep.auth == "secret":
        corpid, secret = query.get("corpid", ""), query.get("corpsecret", "")
        if not corpid:
            raise WeComError(41002)
        if not secret:
            raise WeComError(41004)
        corp = world.corp(corpid)
        _check_ip(corp, ip)
        if secret != corp.secret:
            raise WeComError(40001)
        return corp
    token_text = query.get("access_token")
    if not token_text:
        raise WeComError(41001)
    token = world.tokens.get(token_text)
    if token is None or token.corpid not in world.corps:
        raise WeComError(40014)
    if token.revoked_errcode is not None:
        raise WeComError(token.revoked_errcode)
    if world.now() >= token.expires_at:
        raise WeComError(42001)
    corp = world.corps[token.corpid]
    _check_ip(corp, ip)
    return corp


def _check_ip(corp: Corp, ip: str) -> None:
    if corp.ip_allowlist is not None and ip not in corp.ip_allowlist:
        raise WeComError(60020)


async def _read_body(request: Request, ep: Endpoint) -> tuple[dict[str, Any], tuple[str, str, bytes] | None]:
    if ep.body == "multipart":
        form = await request.form()
        part = form.get("media")
        if not isinstance(part, UploadFile):
            raise WeComError(40058, 'multipart field "media" missing')
        data = await part.read()
        return {}, (part.filename or "media", part.content_type or "application/octet-stream", data)
    if ep.body == "none" or request.method == "GET":
        return {}, None
    raw = await request.body()
    if not raw.strip():
        return {}, None
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise WeComError(40058, "Warning: wrong json format.") from exc
    if not isinstance(body, dict):
        raise WeComError(40058, "Warning: wrong json format.")
    return body, None


router = APIRouter()


@router.api_route("/cgi-bin/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def cgi_bin(path: str, request: Request, sim: SimDep) -> Response:
    world, faults = sim.world, sim.faults
    ep = ENDPOINTS.get(path.strip("/"))
    if ep is None:
        return JSONResponse({"detail": f"/cgi-bin/{path} is not simulated"}, status_code=404)
    ip = client_ip(request)
    decision = faults.decide(ep.path)
    if decision.latency_s:
        await asyncio.sleep(decision.latency_s)  # real time: it is latency, not domain time
    if decision.drop_response:
        request.state.sim_drop_response = True
    if decision.invalidate_tokens:
        with world.lock:  # as `POST /corps/{corpid}/tokens/invalidate`, for every corp
            invalidate_all_tokens(world)
    if decision.errcode is not None:
        if ep.path in SEND_ENDPOINTS:  # a refused send is still a counted send call
            body = await _safe_body(request)
            with world.lock:
                sending.record(world, ep.path, "", body, decision.errcode, fault=True)
        return JSONResponse(error_body(decision.errcode, ip))
    try:
        with world.lock:  # credentials first, like WeCom: 41001 even for a malformed body
            authenticate(world, request, ep, ip)
        if request.method not in ep.methods:
            raise WeComError(40058, f"use {'/'.join(ep.methods)} for this API")
        body, upload = await _read_body(request, ep)
        with world.lock:
            corp = authenticate(world, request, ep, ip)  # again: the body read may have awaited
            result = ep.handler(Call(world, faults, corp, body, request.query_params, ip, upload))
            # Render inside the lock: the answer is a consistent snapshot.
            return result if isinstance(result, Response) else JSONResponse(result)
    except WeComError as exc:
        return JSONResponse(error_body(exc.errcode, ip, exc.detail))
    except ClientDisconnect:
        # The caller hung up before its body arrived (a killed client): nothing was processed.
        return Response(status_code=499)


def invalidate_all_tokens(world: World, errcode: int = 42001) -> int:
    """Every current access token answers `errcode` from now on (hold world.lock)."""
    tokens = [t for t in world.tokens.values() if t.revoked_errcode is None]
    for token in tokens:
        token.revoked_errcode = errcode
    return len(tokens)


async def _safe_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, ClientDisconnect):  # the caller gave up (killed, or timed out on latency)
        return {}
    return body if isinstance(body, dict) else {}


class DropResponseMiddleware:
    """For an injected "response lost": the call is processed, then the connection is
    closed without an answer (the client sees a transport error, not an HTTP status).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/cgi-bin/"):
            await self.app(scope, receive, send)
            return
        dropped = False

        async def guarded_send(message: Message) -> None:
            nonlocal dropped
            if scope.get("state", {}).get(DROP_FLAG):
                dropped = True
                return
            await send(message)

        await self.app(scope, receive, guarded_send)
        if dropped:
            # uvicorn's receive is a bound method of its request cycle, which owns the transport.
            transport = getattr(getattr(receive, "__self__", None), "transport", None)
            if transport is None:
                raise RuntimeError("cannot drop the connection under this server; answering 500 instead")
            transport.close()
            await receive()  # wait for http.disconnect, so the server does not answer 500
