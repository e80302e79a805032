"""Typed results of the WeCom endpoints other than sync_msg (wecom-kf-api.md §7, §8)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WeComModel(BaseModel):
    # Extra fields WeCom adds later are kept (model_extra); numbers sent where strings are
    # documented are accepted as strings.
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)


class WechatChannels(WeComModel):
    nickname: str | None = None
    shop_nickname: str | None = None
    scene: int | None = None


class KfAccountInfo(WeComModel):
    open_kfid: str
    name: str = ""
    avatar: str = ""
    manage_privilege: bool | None = None  # omitted for component apps


class ServicerResult(WeComModel):
    userid: str | None = None
    department_id: int | None = None
    errcode: int = 0
    errmsg: str = ""  # "success", or "ignored" when already present / absent

    @property
    def ok(self) -> bool:
        return self.errcode == 0


class ServicerInfo(WeComModel):
    userid: str | None = None
    department_id: int | None = None
    status: int | None = None  # 0 = 接待中, 1 = 停止接待 (not the event encoding)
    stop_type: int | None = None  # when status = 1: 0 = stopped, 1 = suspended

    @property
    def is_receiving(self) -> bool:
        return self.userid is not None and self.status == 0


class ServiceState(WeComModel):
    state: int
    servicer_userid: str | None = None  # meaningful only in state 3


class TransResult(WeComModel):
    msg_code: str | None = None
    # True when the trans answer was lost and service_state/get showed it took effect
    # (then any msg_code it returned is lost too).
    settled_by_get: bool = False


class EnterSessionContext(WeComModel):
    scene: str | None = None
    scene_param: str | None = None
    wechat_channels: WechatChannels | None = None


class CustomerInfo(WeComModel):
    external_userid: str
    nickname: str = ""
    avatar: str = ""
    gender: int = 0
    unionid: str | None = None
    enter_session_context: EnterSessionContext | None = None


class CustomerBatch(WeComModel):
    customers: list[CustomerInfo] = Field(default_factory=list)
    invalid_external_userids: list[str] = Field(default_factory=list)


class MediaFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    content: bytes
    content_type: str
    filename: str | None = None
