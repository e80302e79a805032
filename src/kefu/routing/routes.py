"""REST: /api/v1/accounts/{id}/exclusive-servicers — a customer's 专属客服 until the CRM names it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Response

from kefu.accounts.settings import get_account
from kefu.api.auth import require_token
from kefu.api.deps import IdPath, RuntimeDep
from kefu.api.routes import ApiRoute
from kefu.errors import NotFound
from kefu.routing import service
from kefu.routing.schemas import ExclusiveServicerIn, ExclusiveServicerOut

router = APIRouter(
    prefix="/accounts/{account_id}/exclusive-servicers",
    tags=["routing"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)
ExternalUserid = Path(min_length=1, max_length=64)


@router.get("", response_model=list[ExclusiveServicerOut])
async def list_exclusive(account_id: IdPath, rt: RuntimeDep) -> list[ExclusiveServicerOut]:
    async with rt.db.read() as session:
        await get_account(session, account_id)
        rows = await service.exclusive_servicers(session, account_id)
    return [ExclusiveServicerOut.model_validate(row) for row in rows]


@router.put("/{external_userid}", response_model=ExclusiveServicerOut)
async def put_exclusive(
    account_id: IdPath, body: ExclusiveServicerIn, rt: RuntimeDep, external_userid: str = ExternalUserid
) -> ExclusiveServicerOut:
    """Name the customer's exclusive servicer (the `exclusive` routing rule sends them there)."""
    async with rt.db.write() as session:
        await get_account(session, account_id)
        await service.set_exclusive_servicer(
            session,
            account_id=account_id,
            external_userid=external_userid,
            servicer_userid=body.servicer_userid,
            now=rt.clock.now(),
        )
        rows = await service.exclusive_servicers(session, account_id)
        row = next(r for r in rows if r.external_userid == external_userid)
        return ExclusiveServicerOut.model_validate(row)


@router.delete("/{external_userid}", status_code=204)
async def delete_exclusive(
    account_id: IdPath, rt: RuntimeDep, external_userid: str = ExternalUserid
) -> Response:
    async with rt.db.write() as session:
        await get_account(session, account_id)
        if await service.exclusive_servicer(session, account_id, external_userid) is None:
            raise NotFound(f"customer {external_userid} has no exclusive servicer in account {account_id}")
        await service.set_exclusive_servicer(
            session,
            account_id=account_id,
            external_userid=external_userid,
            servicer_userid=None,
            now=rt.clock.now(),
        )
    return Response(status_code=204)
