"""Request and response shapes of accounts (在线客服账号), their servicers, link and settings."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kefu.accounts.kf_accounts import Avatar
from kefu.accounts.models import KfAccount, Servicer, SettingsVersion
from kefu.accounts.servicers import MAX_NAME, RECEIVING, ServicerSpec
from kefu.accounts.settings_types import MAX_SESSIONS_CAP
from kefu.db.base import MAX_ID
from kefu.errors import Invalid


class ServicerOut(BaseModel):
    userid: str
    name: str | None = Field(description="the name the admin gave (WeCom's servicer list has none)")
    position: int
    max_sessions: int | None = Field(description="None: the account's queue.default_max_sessions")
    receiving: bool = Field(description="WeCom reception status 接待中")
    status: int = Field(description="kf/servicer/list encoding: 0 = 接待中, 1 = 停止接待")
    stop_type: int = Field(description="when stopped: 0 = 停止接待, 1 = 暂时挂起")
    in_wecom: bool = Field(description="in WeCom's reception list of the account")
    last_error: str | None


class AccountOut(BaseModel):
    id: int
    connection_id: int
    open_kfid: str
    name: str
    avatar_url: str
    avatar_path: str | None
    enabled: bool
    authorized: bool
    contact_url: str | None = Field(description="the contact link; not offered (null) while disabled")
    contact_scene: str | None
    settings_version: int
    servicers: list[ServicerOut]
    created_at: datetime
    updated_at: datetime


def servicer_out(row: Servicer) -> ServicerOut:
    return ServicerOut(
        userid=row.userid,
        name=row.name,
        position=row.position,
        max_sessions=row.max_sessions,
        receiving=row.in_wecom and row.status == RECEIVING,
        status=row.status,
        stop_type=row.stop_type,
        in_wecom=row.in_wecom,
        last_error=row.last_error,
    )


def account_out(account: KfAccount, servicers: list[Servicer]) -> AccountOut:
    return AccountOut(
        id=account.id,
        connection_id=account.connection_id,
        open_kfid=account.open_kfid,
        name=account.name,
        avatar_url=account.avatar_url,
        avatar_path=account.avatar_path,
        enabled=account.enabled,
        authorized=account.authorized,
        contact_url=account.contact_url if account.enabled else None,
        contact_scene=account.contact_scene,
        settings_version=account.settings_version,
        servicers=[servicer_out(s) for s in servicers],
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


class AvatarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    avatar_base64: str | None = Field(None, description="A PNG or JPEG image, ≤ 2 MB, base64-encoded")
    avatar_filename: str = Field("avatar.png", min_length=1, max_length=128)

    def avatar(self) -> Avatar | None:
        if self.avatar_base64 is None:
            return None
        try:
            content = base64.b64decode(self.avatar_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid("avatar_base64 is not valid base64") from exc
        return Avatar(content=content, filename=self.avatar_filename)


class AccountCreate(AvatarIn):
    """Create an account by `name` (in WeCom too), or adopt an existing one by `open_kfid`."""

    connection_id: int = Field(ge=1, le=MAX_ID)  # refused before it reaches a query
    name: str | None = Field(None, description="在线客服名称, 1–16 characters")
    open_kfid: str | None = Field(None, description="adopt this existing account instead of creating one")
    enabled: bool = True
    settings: dict[str, Any] | None = Field(None, description="the settings (as in the config file)")


class AccountUpdate(AvatarIn):
    name: str | None = None
    enabled: bool | None = None


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scene: str | None = Field(None, description="1–32 of [0-9A-Za-z_-]; comes back in enter_session")


class LinkOut(BaseModel):
    url: str
    scene: str | None


def _not_blank(name: str) -> str:
    if not name.strip():
        raise ValueError("a servicer's name must not be blank (leave it out for none)")
    return name


# A servicer's name, as the API and the config file take it.
ServicerName = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_not_blank)]


class ServicerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userid: str = Field(min_length=1, max_length=64)
    max_sessions: int | None = Field(None, ge=1, le=MAX_SESSIONS_CAP)
    name: ServicerName | None = Field(
        None, description="what the console shows when no console user has the userid; left out: none"
    )


class ServicersPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servicers: list[ServicerIn] = Field(description="the whole list, in order")

    def specs(self) -> list[ServicerSpec]:
        return [ServicerSpec(s.userid, s.max_sessions, s.name) for s in self.servicers]


class ServicersOut(BaseModel):
    servicers: list[ServicerOut]
    problems: dict[str, str] = Field(default_factory=dict, description="userid → why WeCom refused it")


class SettingsVersionOut(BaseModel):
    version: int
    changed_by: str
    source: str
    changed_at: datetime
    data: dict[str, Any]


def version_out(row: SettingsVersion) -> SettingsVersionOut:
    return SettingsVersionOut(
        version=row.version,
        changed_by=row.changed_by,
        source=row.source,
        changed_at=row.changed_at,
        data=row.data,
    )
