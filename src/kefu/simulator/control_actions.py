"""Control API, part 3: what the customer and the servicers do (§11.9, §11.10).

Each action appends to the account's stream and so fires a callback; the answer
is the stream item that the client will pull (with its msgid).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict

from kefu.simulator import people, setup
from kefu.simulator.control import account_of, corp_of
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import ControlError
from kefu.simulator.state import Account, Corp, Customer, World

# A tiny valid PNG: what a customer "sends" when a test gives no image bytes.
PLACEHOLDER = {
    "image": (
        "image.png",
        "image/png",
        base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        ),
    ),
    "voice": ("voice.amr", "audio/amr", b"#!AMR\n" + bytes(32)),
    "video": ("video.mp4", "video/mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(32)),
    "file": ("file.txt", "text/plain", "模拟文件内容\n".encode()),
}


class EnterIn(BaseModel):
    open_kfid: str | None = None
    url: str | None = None  # a contact link from kf/add_contact_way, maybe with &scene_param=
    scene: str = ""
    scene_param: str = ""
    wechat_channels: dict[str, Any] | None = None


class MessageIn(BaseModel):
    """`{"open_kfid", "msgtype", "<msgtype>": {...}}`; media bodies may omit media_id
    (a placeholder file is stored) or give `data_base64`, `filename`, `content_type`."""

    model_config = ConfigDict(extra="allow")
    open_kfid: str
    msgtype: str

    def body(self) -> dict[str, Any]:
        value = (self.model_extra or {}).get(self.msgtype)
        if not isinstance(value, dict):
            raise ControlError(422, f'the message needs a "{self.msgtype}" object')
        return dict(value)


class ServicerIn(BaseModel):
    servicer_userid: str


def _customer(world: World, external_userid: str) -> Customer:
    customer = world.customers.get(external_userid)
    if customer is None:
        raise ControlError(404, f"no customer {external_userid}")
    return customer


def _pair(world: World, open_kfid: str, external_userid: str) -> tuple[Corp, Account, Customer]:
    account = account_of(world, open_kfid)
    customer = _customer(world, external_userid)
    if customer.corpid != account.corpid:
        raise ControlError(409, "customer and account belong to different corps")
    return world.corps[account.corpid], account, customer


def _with_media(world: World, corp: Corp, msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
    """The customer's media is stored in the corp's media, so the client can media/get it."""
    if msgtype not in PLACEHOLDER or "media_id" in body:
        return body
    filename, content_type, data = PLACEHOLDER[msgtype]
    if "data_base64" in body:
        try:
            data = base64.b64decode(body["data_base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ControlError(422, "data_base64 is not Base64") from exc
    media = setup.store_media(
        world, corp, msgtype, body.get("filename", filename), body.get("content_type", content_type), data
    )
    return {"media_id": media.media_id}


router = APIRouter(prefix="/_sim/api", tags=["simulator control"])


# -- the WeChat customer ---------------------------------------------------------


@router.post("/customers/{external_userid}/enter")
async def enter(sim: SimDep, external_userid: str, body: EnterIn) -> dict[str, Any]:
    with sim.world.lock:
        open_kfid, scene, scene_param = body.open_kfid, body.scene, body.scene_param
        if body.url:
            open_kfid, scene, url_param = people.resolve_contact_url(sim.world, body.url)
            scene_param = url_param or scene_param
        if not open_kfid:
            raise ControlError(422, "give open_kfid or a contact url")
        _corp, account, customer = _pair(sim.world, open_kfid, external_userid)
        item = people.enter(
            sim.world,
            account,
            customer,
            scene=scene,
            scene_param=scene_param,
            wechat_channels=body.wechat_channels,
        )
        return {"item": item}


@router.post("/customers/{external_userid}/messages")
async def customer_message(sim: SimDep, external_userid: str, message: MessageIn) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, customer = _pair(sim.world, message.open_kfid, external_userid)
        body = _with_media(sim.world, corp, message.msgtype, message.body())
        return {"item": people.customer_message(sim.world, account, customer, message.msgtype, body)}


@router.post("/customers/{external_userid}/click")
async def click(
    sim: SimDep,
    external_userid: str,
    open_kfid: str = Body(...),
    menu_msgid: str = Body(...),
    item_id: str = Body(...),
) -> dict[str, Any]:
    with sim.world.lock:
        _corp, account, customer = _pair(sim.world, open_kfid, external_userid)
        return {"item": people.click_menu(sim.world, account, customer, menu_msgid, item_id)}


@router.post("/customers/{external_userid}/recall")
async def customer_recall(
    sim: SimDep, external_userid: str, open_kfid: str = Body(...), msgid: str = Body(...)
) -> dict[str, Any]:
    with sim.world.lock:
        _corp, account, customer = _pair(sim.world, open_kfid, external_userid)
        return {"item": people.customer_recall(sim.world, account, customer, msgid)}


# -- the servicer in the WeCom app -------------------------------------------------


def _session_args(world: World, open_kfid: str, external_userid: str) -> tuple[Corp, Account, Any]:
    corp, account, customer = _pair(world, open_kfid, external_userid)
    return corp, account, world.session(open_kfid, customer.external_userid)


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/reply")
async def reply(
    sim: SimDep, open_kfid: str, external_userid: str, message: dict[str, Any] = Body(...)
) -> dict:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        msgtype = str(message.get("msgtype", ""))
        body = message.get(msgtype)
        if not isinstance(body, dict):
            raise ControlError(422, f'the message needs a "{msgtype}" object')
        body = _with_media(sim.world, corp, msgtype, body)
        userid = str(message.get("servicer_userid", ""))
        return {"item": people.servicer_reply(sim.world, corp, account, session, userid, msgtype, body)}


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/take")
async def take(sim: SimDep, open_kfid: str, external_userid: str, body: ServicerIn) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {"item": people.take(sim.world, corp, account, session, body.servicer_userid)}


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/transfer")
async def transfer(
    sim: SimDep,
    open_kfid: str,
    external_userid: str,
    servicer_userid: str = Body(...),
    to_servicer_userid: str = Body(...),
) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {
            "item": people.transfer(sim.world, corp, account, session, servicer_userid, to_servicer_userid)
        }


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/end")
async def end(sim: SimDep, open_kfid: str, external_userid: str, body: ServicerIn) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {"item": people.end(sim.world, corp, account, session, body.servicer_userid)}


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/retake")
async def retake(sim: SimDep, open_kfid: str, external_userid: str, body: ServicerIn) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {"item": people.retake(sim.world, corp, account, session, body.servicer_userid)}


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/recall")
async def servicer_recall(
    sim: SimDep,
    open_kfid: str,
    external_userid: str,
    servicer_userid: str = Body(...),
    msgid: str = Body(...),
) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {"item": people.servicer_recall(sim.world, corp, account, session, servicer_userid, msgid)}


@router.post("/accounts/{open_kfid}/sessions/{external_userid}/reject")
async def reject(
    sim: SimDep,
    open_kfid: str,
    external_userid: str,
    servicer_userid: str = Body(...),
    reject: bool = Body(...),
) -> dict[str, Any]:
    with sim.world.lock:
        corp, account, session = _session_args(sim.world, open_kfid, external_userid)
        return {"item": people.reject(sim.world, corp, account, session, servicer_userid, reject)}


@router.post("/corps/{corpid}/members/{userid}/reception")
async def reception(
    sim: SimDep, corpid: str, userid: str, status: int = Body(...), stop_type: int = Body(0)
) -> dict[str, Any]:
    """Toggle reception in the WeCom app (status 1 接待中 / 2 停止接待, stop_type 0/1)."""
    with sim.world.lock:
        corp = corp_of(sim.world, corpid)
        member = corp.members.get(userid)
        if member is None:
            raise ControlError(404, f"no member {userid}")
        return {"items": people.set_reception(sim.world, corp, member, status, stop_type)}
