"""The WeCom 微信客服 API endpoints (wecom-kf-api.md §3, §5–8) and their retry policy per endpoint.

A blind retry can double a send or burn a single-use code, so:

- reads and idempotent writes retry errcode -1 and transport errors, at most
  `MAX_RETRIES` times with exponential backoff (as does `gettoken`, in transport.py);
- non-idempotent writes (`account/add|del`, `add_contact_way`, `media/upload`) never retry;
- `send_msg` retries only with the caller's msgid; an outcome it cannot know
  raises `SendOutcomeUnknown`;
- `send_msg_on_event` is tried once (its code is single-use);
- an ambiguous `service_state/trans` is settled by `service_state/get`, never repeated.

Token handling (cache, single-flight, refresh once on 40014/42001) lives in transport.py.
"""

from __future__ import annotations

import secrets as random_tokens
from typing import Any

from kefu.logs import get_logger
from kefu.wecom.errors import (
    SYSTEM_BUSY,
    SendOutcomeUnknown,
    StateTransferUnsettled,
    WeComError,
    WeComTransportError,
)
from kefu.wecom.outbound import EVENT_MESSAGE_TYPES, OutboundMessage, check_msgid
from kefu.wecom.payloads import STATE_HUMAN, SyncItem, SyncPage
from kefu.wecom.results import (
    CustomerBatch,
    CustomerInfo,
    KfAccountInfo,
    MediaFile,
    ServicerInfo,
    ServicerResult,
    ServiceState,
    TransResult,
)
from kefu.wecom.transport import MAX_RETRIES, WeComRequest, WeComTransport

log = get_logger(__name__)

MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})


class WeComClient(WeComTransport):
    # ---- kf accounts and contact links (§8.1, §8.2) ----

    async def account_add(self, name: str, media_id: str) -> str:
        if not 1 <= len(name) <= 16:
            raise ValueError("a kf account name must be 1–16 characters")
        data = await self._write_once("kf/account/add", {"name": name, "media_id": media_id})
        return _required(data, "open_kfid", "kf/account/add")

    async def account_del(self, open_kfid: str) -> None:
        await self._write_once("kf/account/del", {"open_kfid": open_kfid})

    async def account_update(
        self, open_kfid: str, *, name: str | None = None, media_id: str | None = None
    ) -> None:
        body: dict[str, Any] = {"open_kfid": open_kfid}
        if name is not None:
            if not 1 <= len(name) <= 16:
                raise ValueError("a kf account name must be 1–16 characters")
            body["name"] = name
        if media_id is not None:
            body["media_id"] = media_id
        await self._retrying(WeComRequest("kf/account/update", json=body), retry=True)  # idempotent

    async def account_list(self, *, offset: int = 0, limit: int = 100) -> list[KfAccountInfo]:
        if not 1 <= limit <= 100:
            raise ValueError("account_list limit must be 1–100")
        data = await self._read("kf/account/list", {"offset": offset, "limit": limit})
        return [KfAccountInfo.model_validate(item) for item in data.get("account_list") or []]

    async def account_list_all(self) -> list[KfAccountInfo]:
        accounts: list[KfAccountInfo] = []
        while True:
            page = await self.account_list(offset=len(accounts), limit=100)
            accounts.extend(page)
            if len(page) < 100:
                return accounts

    async def add_contact_way(self, open_kfid: str, scene: str | None = None) -> str:
        body: dict[str, Any] = {"open_kfid": open_kfid}
        if scene is not None:
            if not _scene_ok(scene):
                raise ValueError("scene must be 1–32 characters of [0-9a-zA-Z_-]")
            body["scene"] = scene
        data = await self._write_once("kf/add_contact_way", body)
        return _required(data, "url", "kf/add_contact_way")

    # ---- servicers (§8.3) ----

    async def servicer_add(
        self, open_kfid: str, userids: list[str], *, department_ids: list[int] | None = None
    ) -> list[ServicerResult]:
        return await self._servicer_change("kf/servicer/add", open_kfid, userids, department_ids)

    async def servicer_del(
        self, open_kfid: str, userids: list[str], *, department_ids: list[int] | None = None
    ) -> list[ServicerResult]:
        return await self._servicer_change("kf/servicer/del", open_kfid, userids, department_ids)

    async def _servicer_change(
        self, endpoint: str, open_kfid: str, userids: list[str], department_ids: list[int] | None
    ) -> list[ServicerResult]:
        if not userids and not department_ids:
            raise ValueError("give at least one userid or department id")
        if len(userids) > 100 or len(department_ids or []) > 100:
            raise ValueError("at most 100 userids and 100 departments per call")
        body: dict[str, Any] = {"open_kfid": open_kfid, "userid_list": list(userids)}
        if department_ids:
            body["department_id_list"] = list(department_ids)
        data = await self._retrying(WeComRequest(endpoint, json=body), retry=True)  # idempotent
        return [ServicerResult.model_validate(item) for item in data.get("result_list") or []]

    async def servicer_list(self, open_kfid: str) -> list[ServicerInfo]:
        req = WeComRequest("kf/servicer/list", method="GET", params={"open_kfid": open_kfid})
        data = await self._retrying(req, retry=True)
        return [ServicerInfo.model_validate(item) for item in data.get("servicer_list") or []]

    # ---- messages (§3, §5, §6) ----

    async def sync_msg(
        self,
        *,
        open_kfid: str,
        cursor: str | None,
        token: str | None,
        limit: int = 1000,
        voice_format: int = 0,
    ) -> SyncPage:
        if not 1 <= limit <= 1000:
            raise ValueError("sync_msg limit must be 1–1000")
        body: dict[str, Any] = {"open_kfid": open_kfid, "limit": limit, "voice_format": voice_format}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        data = await self._read("kf/sync_msg", body)
        return SyncPage(
            next_cursor=str(data.get("next_cursor") or cursor or ""),
            has_more=bool(data.get("has_more")),
            items=[SyncItem.from_raw(item) for item in data.get("msg_list") or [] if isinstance(item, dict)],
        )

    async def send_msg(self, *, touser: str, open_kfid: str, msgid: str, message: OutboundMessage) -> str:
        """Send under the caller's msgid; retried only with that same msgid.

        Raises SendOutcomeUnknown when a try may have been delivered and no later try could tell.
        """
        check_msgid(msgid)
        req = WeComRequest(
            "kf/send_msg",
            json={"touser": touser, "open_kfid": open_kfid, "msgid": msgid, **message.to_body()},
        )
        lost: str | None = None  # why an earlier try's outcome is unknown
        for attempt in range(MAX_RETRIES + 1):
            try:
                data = await self._authed(req)
                return str(data.get("msgid") or msgid)
            except WeComTransportError as exc:
                if exc.endpoint != req.endpoint:  # gettoken failed: this try sent nothing
                    if lost:
                        raise SendOutcomeUnknown(endpoint=req.endpoint, msgid=msgid, reason=lost) from exc
                    raise
                lost = exc.reason
                if attempt == MAX_RETRIES:
                    raise SendOutcomeUnknown(endpoint=req.endpoint, msgid=msgid, reason=lost) from exc
                reason = lost
            except WeComError as exc:
                if exc.errcode == SYSTEM_BUSY and exc.endpoint == req.endpoint and attempt < MAX_RETRIES:
                    reason = str(exc)
                elif lost:
                    # E.g. "msgid already used" (its errcode is undocumented) after a lost answer:
                    # the first try may have been delivered.
                    raise SendOutcomeUnknown(
                        endpoint=req.endpoint,
                        msgid=msgid,
                        reason=f"{lost}; the retry answered errcode {exc.errcode}",
                    ) from exc
                else:
                    raise
            await self._backoff(req.endpoint, attempt, reason)
        raise AssertionError("unreachable")

    async def send_msg_on_event(self, *, code: str, msgid: str, message: OutboundMessage) -> str:
        """Use a single-use event code (welcome / queue / ending); tried once, never retried."""
        check_msgid(msgid)
        if not isinstance(message, EVENT_MESSAGE_TYPES):
            raise ValueError(f"send_msg_on_event accepts text or msgmenu, not {message.msgtype}")
        req = WeComRequest("kf/send_msg_on_event", json={"code": code, "msgid": msgid, **message.to_body()})
        try:
            data = await self._authed(req)
        except WeComTransportError as exc:
            if exc.endpoint != req.endpoint:
                raise
            raise SendOutcomeUnknown(endpoint=req.endpoint, msgid=msgid, reason=exc.reason) from exc
        return str(data.get("msgid") or msgid)

    # ---- session state (§7) ----

    async def service_state_get(self, *, open_kfid: str, external_userid: str) -> ServiceState:
        data = await self._read(
            "kf/service_state/get", {"open_kfid": open_kfid, "external_userid": external_userid}
        )
        return ServiceState(
            state=int(data.get("service_state") or 0),
            servicer_userid=str(data.get("servicer_userid") or "") or None,
        )

    async def service_state_trans(
        self,
        *,
        open_kfid: str,
        external_userid: str,
        service_state: int,
        servicer_userid: str | None = None,
    ) -> TransResult:
        """Move the session; an ambiguous answer is settled by service_state/get, never by a second trans.

        A lost answer (or errcode -1) is followed by service_state/get: if the session is in the
        target state (with the target servicer for 3), `TransResult(settled_by_get=True)` — the
        msg_code, if any, is lost with the answer; otherwise `StateTransferUnsettled`. If that get
        fails too, its own error is raised and the outcome stays unknown.
        """
        body: dict[str, Any] = {
            "open_kfid": open_kfid,
            "external_userid": external_userid,
            "service_state": service_state,
        }
        if servicer_userid is not None:
            body["servicer_userid"] = servicer_userid
        req = WeComRequest("kf/service_state/trans", json=body)
        try:
            data = await self._authed(req)
            return TransResult(msg_code=str(data.get("msg_code") or "") or None)
        except (WeComError, WeComTransportError) as exc:
            # errcode -1 ("busy") is as ambiguous as a lost answer: it may or may not have applied.
            busy = isinstance(exc, WeComTransportError) or exc.errcode == SYSTEM_BUSY
            if exc.endpoint != req.endpoint or not busy:
                raise
            cause: Exception = exc
        now = await self.service_state_get(open_kfid=open_kfid, external_userid=external_userid)
        arrived = now.state == service_state and (
            service_state != STATE_HUMAN or now.servicer_userid == servicer_userid
        )
        log.info("wecom.trans_settled_by_get", target=service_state, observed=now.state, applied=arrived)
        if arrived:
            return TransResult(msg_code=None, settled_by_get=True)
        raise StateTransferUnsettled(
            target_state=service_state,
            target_servicer_userid=servicer_userid,
            observed_state=now.state,
            observed_servicer_userid=now.servicer_userid,
            reason=str(cause),
        ) from cause

    # ---- customers (§8.4) ----

    async def customer_batchget(
        self, external_userids: list[str], *, need_enter_session_context: bool = False
    ) -> CustomerBatch:
        if not 1 <= len(external_userids) <= 100:
            raise ValueError("customer_batchget takes 1–100 external_userids")
        data = await self._read(
            "kf/customer/batchget",
            {
                "external_userid_list": list(external_userids),
                "need_enter_session_context": int(need_enter_session_context),
            },
        )
        return CustomerBatch(
            customers=[CustomerInfo.model_validate(c) for c in data.get("customer_list") or []],
            invalid_external_userids=[str(u) for u in data.get("invalid_external_userid") or []],
        )

    # ---- temporary media (§8.7) ----

    async def media_upload(self, *, media_type: str, filename: str, content: bytes, content_type: str) -> str:
        if media_type not in MEDIA_TYPES:
            raise ValueError(f"media_type must be one of {sorted(MEDIA_TYPES)}")
        if any(c in content_type for c in "\r\n"):
            raise ValueError("content_type must be a single header value")
        boundary = random_tokens.token_hex(16)
        req = WeComRequest(
            "media/upload",
            params={"type": media_type},
            content=_multipart(boundary, filename, content, content_type),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        data = await self._authed(req)  # not idempotent: a retry could upload twice
        return _required(data, "media_id", "media/upload")

    async def media_get(self, media_id: str) -> MediaFile:
        req = WeComRequest("media/get", method="GET", params={"media_id": media_id}, binary=True)
        return await self._retrying(req, retry=True)  # type: ignore[no-any-return]


def _required(data: dict[str, Any], key: str, endpoint: str) -> str:
    value = data.get(key)
    if not value:
        raise WeComTransportError(endpoint=endpoint, reason=f"answer without {key}")
    return str(value)


def _scene_ok(scene: str) -> bool:
    return 1 <= len(scene) <= 32 and all(c.isascii() and (c.isalnum() or c in "_-") for c in scene)


def _multipart(boundary: str, filename: str, content: bytes, content_type: str) -> bytes:
    """The `media` part as WeCom documents it (filename, filelength, content-type)."""
    # HTML5 form encoding of the filename: UTF-8, with quote and line breaks escaped.
    safe_name = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="media"; filename="{safe_name}"; filelength={len(content)}\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()
