"""REST: /api/v1/connections — thin handlers over kefu.accounts.service and connection_ops."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from kefu.accounts import connection_ops, service
from kefu.accounts.models import Connection
from kefu.accounts.schemas import (
    ConnectionCreate,
    ConnectionOut,
    ConnectionSaved,
    ConnectionUpdate,
    check_out,
    connection_out,
)
from kefu.api.auth import require_token
from kefu.api.deps import IdPath, RuntimeDep, TokenDep
from kefu.api.routes import ApiRoute
from kefu.runtime import Runtime

router = APIRouter(
    prefix="/connections",
    tags=["connections"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)


async def _view(rt: Runtime, connection: Connection) -> ConnectionOut:
    async with rt.db.read() as session:
        accounts = await service.list_accounts(session, connection.id)
    return connection_out(rt.settings, rt.secrets, connection, accounts)


@router.get("", response_model=list[ConnectionOut])
async def list_connections(rt: RuntimeDep) -> list[ConnectionOut]:
    async with rt.db.read() as session:
        connections = await service.list_connections(session)
        accounts = {c.id: await service.list_accounts(session, c.id) for c in connections}
    return [connection_out(rt.settings, rt.secrets, c, accounts[c.id]) for c in connections]


@router.post("", response_model=ConnectionSaved, status_code=201)
async def create_connection(body: ConnectionCreate, rt: RuntimeDep, token: TokenDep) -> ConnectionSaved:
    """Check against WeCom (token + kf/account/list), then save.

    A failed check answers 422 (nothing saved) unless `check` is false."""
    connection, check = await connection_ops.create_connection(
        rt,
        name=body.name,
        corp_id=body.corp_id,
        secret=body.secret,
        callback_token=body.callback_token,
        aes_key=body.encoding_aes_key,
        bootstrap=body.bootstrap,
        check=body.check,
        actor=f"api:{token.name}",
    )
    return ConnectionSaved(connection=await _view(rt, connection), check=check_out(check))


@router.get("/{connection_id}", response_model=ConnectionOut)
async def get_connection(connection_id: IdPath, rt: RuntimeDep) -> ConnectionOut:
    async with rt.db.read() as session:
        connection = await service.get_connection(session, connection_id)
    return await _view(rt, connection)


@router.patch("/{connection_id}", response_model=ConnectionSaved)
async def update_connection(
    connection_id: IdPath, body: ConnectionUpdate, rt: RuntimeDep, token: TokenDep
) -> ConnectionSaved:
    """Change the given fields; a new corp_id or secret is checked against WeCom first."""
    connection, check = await connection_ops.update_connection(
        rt,
        connection_id,
        name=body.name,
        corp_id=body.corp_id,
        secret=body.secret,
        callback_token=body.callback_token,
        aes_key=body.encoding_aes_key,
        bootstrap=body.bootstrap,
        check=body.check,
        actor=f"api:{token.name}",
    )
    return ConnectionSaved(
        connection=await _view(rt, connection), check=check_out(check) if check is not None else None
    )


@router.delete("/{connection_id}", status_code=204)
async def delete_connection(connection_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    """Delete the connection with its accounts and their stored messages."""
    await connection_ops.delete_connection(rt, connection_id, actor=f"api:{token.name}")
    return Response(status_code=204)


@router.post("/{connection_id}/check", response_model=ConnectionSaved)
async def check_connection(connection_id: IdPath, rt: RuntimeDep, token: TokenDep) -> ConnectionSaved:
    """Check the stored credentials against WeCom again; on success the account list is refreshed."""
    connection, check = await connection_ops.recheck_connection(rt, connection_id, actor=f"api:{token.name}")
    return ConnectionSaved(connection=await _view(rt, connection), check=check_out(check))
