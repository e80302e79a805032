"""Tokens, media, kf accounts, contact links, servicers, customers (§1, §8)."""

from __future__ import annotations

import mimetypes
import re
import secrets
from typing import Any

from starlette.responses import JSONResponse, Response

from kefu.simulator import setup
from kefu.simulator.api_base import Call, endpoint
from kefu.simulator.errors import ERRMSG, WeComError, error_body, ok
from kefu.simulator.sending import check_media
from kefu.simulator.state import RETENTION_S, TOKEN_TTL_S, WINDOW_S

SCENE_RE = re.compile(r"^[0-9a-zA-Z_-]{0,32}$")
# §8.7: every file > 5 bytes; too big → 40009 (image) / 40011 (video) / 45001 (others).
MEDIA_LIMITS = {
    "image": (2 << 20, 40009),
    "voice": (2 << 20, 45001),
    "video": (10 << 20, 40011),
    "file": (20 << 20, 45001),
}


@endpoint("gettoken", methods=("GET",), auth="secret", body="none")
def gettoken(call: Call) -> dict[str, Any]:
    token = setup.issue_access_token(call.world, call.corp)
    return ok(access_token=token.token, expires_in=TOKEN_TTL_S)


@endpoint("media/upload", body="multipart")
def media_upload(call: Call) -> dict[str, Any]:
    media_type = call.query.get("type", "")
    if media_type not in MEDIA_LIMITS:
        raise WeComError(40004)
    assert call.upload is not None
    filename, content_type, data = call.upload
    limit, too_big = MEDIA_LIMITS[media_type]
    if len(data) <= 5:
        raise WeComError(40006)
    if len(data) > limit:
        raise WeComError(too_big)
    media = setup.store_media(call.world, call.corp, media_type, filename, content_type, data)
    # §8.7: errmsg is "" on success here, and created_at is a string.
    return {
        "errcode": 0,
        "errmsg": "",
        "type": media_type,
        "media_id": media.media_id,
        "created_at": str(media.created_at),
    }


@endpoint("media/get", methods=("GET",), body="none")
def media_get(call: Call) -> Response:
    media = call.world.media.get(call.query.get("media_id", ""))
    if media is None or media.corpid != call.corp.corpid or call.now >= media.created_at + RETENTION_S:
        return JSONResponse(error_body(40007, call.ip))
    extension = (
        "." + media.filename.rsplit(".", 1)[1]
        if "." in media.filename
        else (mimetypes.guess_extension(media.content_type) or "")
    )
    return Response(
        media.data,
        media_type=media.content_type,
        headers={"Content-disposition": f'attachment; filename="{media.media_id}{extension}"'},
    )


@endpoint("kf/get_corp_qualification", methods=("GET",), body="none")
def corp_qualification(call: Call) -> dict[str, Any]:
    return ok(wechat_channels_binding=False)


# -- kf accounts ------------------------------------------------------------------


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 16:
        raise WeComError(95006)
    return name


@endpoint("kf/account/add")
def account_add(call: Call) -> dict[str, Any]:
    name = _check_name(call.body.get("name"))
    media_id = call.body.get("media_id")
    check_media(call.world, call.corp, media_id)
    if len(call.corp.account_ids) >= 5000:
        raise WeComError(95005)
    account = setup.create_account(call.world, call.corp, name, str(media_id))
    return ok(open_kfid=account.open_kfid)


@endpoint("kf/account/del")
def account_del(call: Call) -> dict[str, Any]:
    world, corp = call.world, call.corp
    account = world.account_for(corp, call.body.get("open_kfid"))
    if len(corp.account_ids) == 1:
        raise WeComError(95005, "the last kf account cannot be deleted")
    corp.account_ids.remove(account.open_kfid)
    del world.accounts[account.open_kfid]
    for key in [k for k in world.sessions if k[0] == account.open_kfid]:
        del world.sessions[key]
    world.touch()
    return ok()


@endpoint("kf/account/update")
def account_update(call: Call) -> dict[str, Any]:
    account = call.world.account_for(call.corp, call.body.get("open_kfid"))
    if "name" in call.body:
        account.name = _check_name(call.body["name"])
    if "media_id" in call.body:
        check_media(call.world, call.corp, call.body["media_id"])
        account.media_id = call.body["media_id"]
        account.avatar = f"https://wework.qpic.cn/wwhead/{secrets.token_hex(12)}/0"
    call.world.touch()
    return ok()


@endpoint("kf/account/list", methods=("POST", "GET"))
def account_list(call: Call) -> dict[str, Any]:
    """Paged by offset/limit (limit 1–100, default 100); old clients GET it with no body."""
    offset, limit = call.body.get("offset", 0), call.body.get("limit", 100)
    if not isinstance(offset, int) or offset < 0 or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise WeComError(40058, "offset >= 0, limit 1..100")
    ids = call.corp.account_ids[offset : offset + limit]
    accounts = [call.world.accounts[i] for i in ids]
    return ok(
        account_list=[
            {"open_kfid": a.open_kfid, "name": a.name, "avatar": a.avatar, "manage_privilege": a.authorized}
            for a in accounts
        ]
    )


@endpoint("kf/add_contact_way")
def add_contact_way(call: Call) -> dict[str, Any]:
    account = call.world.account_for(call.corp, call.body.get("open_kfid"))
    scene = call.body.get("scene", "")
    if not isinstance(scene, str) or not SCENE_RE.match(scene):
        raise WeComError(40058, "scene: at most 32 bytes of [0-9a-zA-Z_-]")
    enc = "ENC" + secrets.token_urlsafe(24).replace("-", "").replace("_", "")
    call.world.contact_ways[enc] = (account.open_kfid, scene)
    account.contact_ways[enc] = scene
    return ok(url=f"https://work.weixin.qq.com/kf/kfc{secrets.token_hex(8)}?enc_scene={enc}")


# -- servicers ----------------------------------------------------------------------


def _servicer_change(call: Call, adding: bool) -> dict[str, Any]:
    world, corp = call.world, call.corp
    account = world.account_for(corp, call.body.get("open_kfid"))
    userids = call.body.get("userid_list") or []
    department_ids = call.body.get("department_id_list") or []
    if not isinstance(userids, list) or not isinstance(department_ids, list):
        raise WeComError(40058, "userid_list / department_id_list must be arrays")
    if not userids and not department_ids:
        raise WeComError(40058, "userid_list or department_id_list required")
    if len(userids) > 100 or len(department_ids) > 100:
        raise WeComError(40058, "at most 100 per list")
    results: list[dict[str, Any]] = []
    for key, values, known, listed, missing_code in (
        ("userid", userids, set(corp.members), account.userids, 60111),
        ("department_id", department_ids, setup.departments(corp), account.department_ids, 60123),
    ):
        for value in values:
            if value not in known:
                results.append({key: value, "errcode": missing_code, "errmsg": ERRMSG[missing_code]})
            elif (value in listed) == adding:
                results.append({key: value, "errcode": 0, "errmsg": "ignored"})  # already there / absent
            else:
                (listed.append if adding else listed.remove)(value)
                results.append({key: value, "errcode": 0, "errmsg": "success"})
    world.touch()
    return ok(result_list=results)


@endpoint("kf/servicer/add")
def servicer_add(call: Call) -> dict[str, Any]:
    return _servicer_change(call, adding=True)


@endpoint("kf/servicer/del")
def servicer_del(call: Call) -> dict[str, Any]:
    return _servicer_change(call, adding=False)


@endpoint("kf/servicer/list", methods=("GET",), body="none")
def servicer_list(call: Call) -> dict[str, Any]:
    """`status` here is 0 = 接待中, 1 = 停止接待 (the event uses 1/2, §4.3)."""
    account = call.world.account_for(call.corp, call.query.get("open_kfid"))
    items: list[dict[str, Any]] = []
    for userid in account.userids:
        member = call.corp.members[userid]
        item: dict[str, Any] = {"userid": userid, "status": member.status}
        if member.status == 1:
            item["stop_type"] = member.stop_type
        items.append(item)
    items += [{"department_id": d} for d in account.department_ids]
    return ok(servicer_list=items)


# -- customers ------------------------------------------------------------------------


@endpoint("kf/customer/batchget")
def customer_batchget(call: Call) -> dict[str, Any]:
    ids = call.body.get("external_userid_list")
    need_context = call.body.get("need_enter_session_context", 0)
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or need_context not in (0, 1):
        raise WeComError(40058, "external_userid_list: 1..100 ids; need_enter_session_context 0/1")
    found, invalid = [], []
    for external_userid in ids:
        customer = call.world.customers.get(external_userid) if isinstance(external_userid, str) else None
        recent = customer and customer.last_activity_at and call.now - customer.last_activity_at < WINDOW_S
        if customer is None or customer.corpid != call.corp.corpid or not recent:
            invalid.append(external_userid)  # unknown, or no consultation in the last 48 h
            continue
        item: dict[str, Any] = {
            "external_userid": customer.external_userid,
            "nickname": customer.nickname,
            "avatar": customer.avatar,
            "gender": customer.gender,
            "unionid": customer.unionid,
        }
        if need_context and customer.enter_context is not None:
            item["enter_session_context"] = customer.enter_context
        found.append(item)
    return ok(customer_list=found, invalid_external_userid=invalid)
