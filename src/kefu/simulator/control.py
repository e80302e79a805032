"""The control API (`/_sim/api/...`): build the world, move the clock, inject faults,
read what happened. Documented with examples in docs/simulator.md.

Customer and servicer actions are in `control_actions.py`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from kefu.simulator import setup, stream
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import ControlError
from kefu.simulator.state import Account, Corp, Settings, World


class CorpIn(BaseModel):
    corpid: str | None = None
    secret: str | None = None
    name: str = ""
    callback_token: str | None = None
    encoding_aes_key: str | None = None
    agent_id: str | None = "1000002"
    ip_allowlist: list[str] | None = None
    callback_url: str | None = None  # set without verification (use PUT .../callback to verify)


class CallbackIn(BaseModel):
    url: str | None
    verify: bool = True


class AccountIn(BaseModel):
    name: str = "咨询客服"
    authorized: bool = True


class MemberIn(BaseModel):
    userid: str
    name: str = ""
    activated: bool = True
    department_ids: list[int] = []


class CustomerIn(BaseModel):
    nickname: str = ""
    gender: int = 0
    avatar: str = ""
    unionid: str = ""


class MediaIn(BaseModel):
    type: str = "image"
    filename: str = "image.png"
    content_type: str = "image/png"
    data_base64: str


class ClockSetIn(BaseModel):
    timestamp: float | None = None
    iso: datetime | None = None


def corp_of(world: World, corpid: str) -> Corp:
    corp = world.corps.get(corpid)
    if corp is None:
        raise ControlError(404, f"no corp {corpid}")
    return corp


def account_of(world: World, open_kfid: str) -> Account:
    account = world.accounts.get(open_kfid)
    if account is None:
        raise ControlError(404, f"no kf account {open_kfid}")
    return account


def corp_view(corp: Corp) -> dict[str, Any]:
    return {
        "corpid": corp.corpid,
        "secret": corp.secret,
        "name": corp.name,
        "callback_token": corp.callback_token,
        "encoding_aes_key": corp.encoding_aes_key,
        "agent_id": corp.agent_id,
        "callback_url": corp.callback_url,
        "ip_allowlist": corp.ip_allowlist,
        "open_kfids": list(corp.account_ids),
        "members": [asdict(m) for m in corp.members.values()],
    }


def account_view(world: World, account: Account) -> dict[str, Any]:
    return {
        "open_kfid": account.open_kfid,
        "corpid": account.corpid,
        "name": account.name,
        "avatar": account.avatar,
        "authorized": account.authorized,
        "servicer_userids": list(account.userids),
        "servicer_department_ids": list(account.department_ids),
        "contact_ways": dict(account.contact_ways),
        "stream_length": len(account.stream),
    }


router = APIRouter(prefix="/_sim/api", tags=["simulator control"])


@router.post("/reset")
async def reset(sim: SimDep) -> dict[str, Any]:
    await asyncio.to_thread(sim.reset)
    return {"ok": True}


@router.get("/settings")
async def get_settings(sim: SimDep) -> dict[str, Any]:
    return asdict(sim.world.settings)


@router.patch("/settings")
async def patch_settings(sim: SimDep, changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)}
    unknown = set(changes) - names
    if unknown:
        raise ControlError(422, f"unknown settings {sorted(unknown)}; known: {sorted(names)}")
    with sim.world.lock:
        sim.world.settings = Settings(**{**asdict(sim.world.settings), **changes})
    return asdict(sim.world.settings)


@router.get("/clock")
async def get_clock(sim: SimDep) -> dict[str, Any]:
    return {"timestamp": sim.clock.timestamp(), "iso": sim.clock.now().isoformat()}


@router.post("/clock/set")
async def set_clock(sim: SimDep, body: ClockSetIn) -> dict[str, Any]:
    if body.iso is not None:
        sim.clock.set(body.iso)
    elif body.timestamp is not None:
        sim.clock.set(datetime.fromtimestamp(body.timestamp, UTC))
    else:
        raise ControlError(422, "give timestamp or iso")
    sim.world.touch()
    return await get_clock(sim)


@router.post("/clock/advance")
async def advance_clock(sim: SimDep, seconds: float = Body(..., embed=True)) -> dict[str, Any]:
    sim.clock.advance(seconds)
    sim.world.touch()
    return await get_clock(sim)


# -- corps and the things in them ------------------------------------------------


@router.post("/corps")
async def create_corp(sim: SimDep, body: CorpIn) -> dict[str, Any]:
    with sim.world.lock:
        corp = setup.create_corp(sim.world, **body.model_dump(exclude={"callback_url"}))
        corp.callback_url = body.callback_url
        return corp_view(corp)


@router.get("/corps")
async def list_corps(sim: SimDep) -> list[dict[str, Any]]:
    with sim.world.lock:
        return [corp_view(c) for c in sim.world.corps.values()]


@router.get("/corps/{corpid}")
async def get_corp(sim: SimDep, corpid: str) -> dict[str, Any]:
    with sim.world.lock:
        return corp_view(corp_of(sim.world, corpid))


@router.put("/corps/{corpid}/callback")
async def set_callback(sim: SimDep, corpid: str, body: CallbackIn) -> dict[str, Any]:
    """Like saving the URL in WeCom's console: verified by a GET with echostr first."""
    with sim.world.lock:
        corp = corp_of(sim.world, corpid)
    if body.url and body.verify:
        verified, detail = await asyncio.to_thread(sim.dispatcher.verify_url, corp, body.url)
        if not verified:
            raise ControlError(409, f"callback URL not saved: {detail}")
    with sim.world.lock:
        corp.callback_url = body.url or None
        sim.world.touch()
    return {"callback_url": corp.callback_url, "verified": bool(body.url and body.verify)}


@router.put("/corps/{corpid}/ip-allowlist")
async def set_ip_allowlist(
    sim: SimDep, corpid: str, ips: list[str] | None = Body(..., embed=True)
) -> dict[str, Any]:
    with sim.world.lock:
        corp_of(sim.world, corpid).ip_allowlist = ips
    return {"ip_allowlist": ips}


@router.post("/corps/{corpid}/tokens/invalidate")
async def invalidate_tokens(
    sim: SimDep, corpid: str, errcode: int = Body(42001, embed=True)
) -> dict[str, Any]:
    """Force early invalidation: every current token answers `errcode` (42001 or 40014)."""
    if errcode not in (40014, 42001):
        raise ControlError(422, "errcode must be 40014 or 42001")
    with sim.world.lock:
        corp_of(sim.world, corpid)
        tokens = [t for t in sim.world.tokens.values() if t.corpid == corpid and t.revoked_errcode is None]
        for token in tokens:
            token.revoked_errcode = errcode
    return {"invalidated": len(tokens)}


@router.post("/corps/{corpid}/accounts")
async def create_account(sim: SimDep, corpid: str, body: AccountIn) -> dict[str, Any]:
    with sim.world.lock:
        account = setup.create_account(
            sim.world, corp_of(sim.world, corpid), body.name, authorized=body.authorized
        )
        return account_view(sim.world, account)


@router.get("/accounts/{open_kfid}")
async def get_account(sim: SimDep, open_kfid: str) -> dict[str, Any]:
    with sim.world.lock:
        return account_view(sim.world, account_of(sim.world, open_kfid))


@router.put("/accounts/{open_kfid}/authorization")
async def authorize(sim: SimDep, open_kfid: str, authorized: bool = Body(..., embed=True)) -> dict[str, Any]:
    """Grant or withdraw the app's right to manage the account: `kf_account_auth_change`."""
    with sim.world.lock:
        account = account_of(sim.world, open_kfid)
        if account.authorized != authorized:
            account.authorized = authorized
            corp = sim.world.corps[account.corpid]
            side = {"added": open_kfid} if authorized else {"removed": open_kfid}
            sim.world.notify(corp, None, stream.auth_change_xml(corp.corpid, sim.world.now(), **side))
            sim.world.touch()
        return account_view(sim.world, account)


@router.post("/corps/{corpid}/members")
async def create_member(sim: SimDep, corpid: str, body: MemberIn) -> dict[str, Any]:
    with sim.world.lock:
        member = setup.create_member(
            sim.world,
            corp_of(sim.world, corpid),
            body.userid,
            name=body.name,
            activated=body.activated,
            department_ids=body.department_ids,
        )
        return asdict(member)


@router.patch("/corps/{corpid}/members/{userid}")
async def update_member(
    sim: SimDep, corpid: str, userid: str, activated: bool = Body(..., embed=True)
) -> dict:
    with sim.world.lock:
        member = corp_of(sim.world, corpid).members.get(userid)
        if member is None:
            raise ControlError(404, f"no member {userid}")
        member.activated = activated
        sim.world.touch()
        return asdict(member)


@router.post("/accounts/{open_kfid}/servicers")
async def add_servicers(
    sim: SimDep, open_kfid: str, userids: list[str] = Body([]), department_ids: list[int] = Body([])
) -> dict[str, Any]:
    """The admin console's reception list; unknown userids become members."""
    with sim.world.lock:
        account = account_of(sim.world, open_kfid)
        corp = sim.world.corps[account.corpid]
        for userid in userids:
            if userid not in corp.members:
                setup.create_member(sim.world, corp, userid)
            if userid not in account.userids:
                account.userids.append(userid)
        for department in department_ids:
            if department not in account.department_ids:
                account.department_ids.append(department)
        sim.world.touch()
        return account_view(sim.world, account)


@router.post("/corps/{corpid}/customers")
async def create_customer(sim: SimDep, corpid: str, body: CustomerIn) -> dict[str, Any]:
    with sim.world.lock:
        customer = setup.create_customer(sim.world, corp_of(sim.world, corpid), **body.model_dump())
        return asdict(customer)


@router.post("/corps/{corpid}/media")
async def upload_media(sim: SimDep, corpid: str, body: MediaIn) -> dict[str, Any]:
    try:
        data = base64.b64decode(body.data_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ControlError(422, "data_base64 is not Base64") from exc
    with sim.world.lock:
        media = setup.store_media(
            sim.world, corp_of(sim.world, corpid), body.type, body.filename, body.content_type, data
        )
        return {"media_id": media.media_id, "created_at": media.created_at}
