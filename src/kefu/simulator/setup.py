"""Creating things in the world: corps, accounts, members, customers, media, tokens.

Shared by the WeCom API (`kf/account/add`, `media/upload`, `gettoken`) and the
control API. Callers hold `world.lock`.
"""

from __future__ import annotations

import base64
import re
import secrets

from kefu.simulator.errors import ControlError
from kefu.simulator.state import (
    TOKEN_TTL_S,
    AccessToken,
    Account,
    Corp,
    Customer,
    Media,
    Member,
    World,
    new_corpid,
    new_external_userid,
    new_media_id,
    new_open_kfid,
    random_id,
)

CALLBACK_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
USERID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def new_encoding_aes_key() -> str:
    """43 letters/digits whose Base64 (+"=") decodes to 32 bytes, like WeCom's console makes."""
    while True:
        key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        if AES_KEY_RE.match(key):
            return key


def create_corp(
    world: World,
    *,
    corpid: str | None = None,
    secret: str | None = None,
    name: str = "",
    callback_token: str | None = None,
    encoding_aes_key: str | None = None,
    agent_id: str | None = "1000002",
    ip_allowlist: list[str] | None = None,
) -> Corp:
    corpid = corpid or new_corpid()
    if corpid in world.corps:
        raise ControlError(409, f"corp {corpid} exists")
    callback_token = callback_token or random_id("", 32)
    encoding_aes_key = encoding_aes_key or new_encoding_aes_key()
    if not CALLBACK_TOKEN_RE.match(callback_token):
        raise ControlError(422, "callback_token: letters and digits, at most 32")
    if not AES_KEY_RE.match(encoding_aes_key):
        raise ControlError(422, "encoding_aes_key: exactly 43 letters or digits")
    corp = Corp(
        corpid=corpid,
        secret=secret
        or random_id("", 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        name=name or f"模拟企业 {corpid[-4:]}",
        callback_token=callback_token,
        encoding_aes_key=encoding_aes_key,
        agent_id=agent_id,
        ip_allowlist=ip_allowlist,
    )
    world.corps[corpid] = corp
    world.touch()
    return corp


def create_account(
    world: World, corp: Corp, name: str, media_id: str = "", *, authorized: bool = True
) -> Account:
    account = Account(
        open_kfid=new_open_kfid(),
        corpid=corp.corpid,
        name=name,
        media_id=media_id,
        avatar=f"https://wework.qpic.cn/wwhead/{secrets.token_hex(12)}/0",
        authorized=authorized,
    )
    world.accounts[account.open_kfid] = account
    corp.account_ids.append(account.open_kfid)
    world.touch()
    return account


def create_member(
    world: World,
    corp: Corp,
    userid: str,
    *,
    name: str = "",
    activated: bool = True,
    department_ids: list[int] | None = None,
) -> Member:
    if not USERID_RE.match(userid or ""):
        raise ControlError(422, "userid: 1-64 of letters, digits, _ . @ -")
    if userid in corp.members:
        raise ControlError(409, f"member {userid} exists")
    member = Member(
        userid=userid, name=name or userid, activated=activated, department_ids=department_ids or []
    )
    corp.members[userid] = member
    world.touch()
    return member


def create_customer(
    world: World,
    corp: Corp,
    *,
    nickname: str = "",
    gender: int = 0,
    avatar: str = "",
    unionid: str = "",
    external_userid: str | None = None,
) -> Customer:
    external_userid = external_userid or new_external_userid()
    if external_userid in world.customers:
        raise ControlError(409, f"customer {external_userid} exists")
    customer = Customer(
        external_userid=external_userid,
        corpid=corp.corpid,
        nickname=nickname or f"微信用户{secrets.randbelow(10000):04d}",
        avatar=avatar or f"http://wx.qlogo.cn/mmhead/{secrets.token_hex(16)}/0",
        gender=gender,
        unionid=unionid or random_id("o", 28),
    )
    world.customers[external_userid] = customer
    world.touch()
    return customer


def store_media(
    world: World, corp: Corp, media_type: str, filename: str, content_type: str, data: bytes
) -> Media:
    media = Media(new_media_id(), corp.corpid, media_type, filename, content_type, data, world.now())
    world.media[media.media_id] = media
    return media


def issue_access_token(world: World, corp: Corp) -> AccessToken:
    """A new token per call (each stays valid 7200 s unless invalidated early, or revoked by the
    next fetch when the `revoke_previous_tokens` setting is on)."""
    if world.settings.revoke_previous_tokens:
        for old in world.tokens.values():
            if old.corpid == corp.corpid and old.revoked_errcode is None:
                old.revoked_errcode = 40014
    token = AccessToken(
        random_id("", 128, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        corp.corpid,
        world.now() + TOKEN_TTL_S,
    )
    world.tokens[token.token] = token
    return token


def departments(corp: Corp) -> set[int]:
    """Departments exist when a member is in them."""
    return {d for member in corp.members.values() for d in member.department_ids}
