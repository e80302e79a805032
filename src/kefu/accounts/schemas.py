"""Connection fields: the one set of rules for their values, and the API's request/response shapes.

The `check_*` functions are shared by the service, the REST API and the config file
schema, so a value is judged the same way whichever door it comes through.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kefu.accounts.models import Connection, KfAccount
from kefu.errors import Invalid
from kefu.secretbox import SecretBox, SecretDecryptError, masked
from kefu.settings import Settings
from kefu.wecom.crypto import CallbackCryptoError, check_aes_key

if TYPE_CHECKING:
    from kefu.accounts.check import ConnectionCheck

Bootstrap = Literal["skip", "backfill"]
BOOTSTRAP_POLICIES: tuple[str, ...] = ("skip", "backfill")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9]{1,32}$")


def check_connection_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"connection name {value!r} must be 1-64 letters, digits, '-' or '_' "
            "(it is used in references and in ${NAME} variable names)"
        )
    return value


def check_corp_id(value: str) -> str:
    if not value or len(value) > 64 or any(c.isspace() for c in value):
        raise ValueError(
            "corp_id must be WeCom's 企业ID (我的企业 → 企业信息), without spaces, ≤ 64 characters"
        )
    return value


def check_secret(value: str) -> str:
    if not value or len(value) > 256 or any(c.isspace() for c in value):
        raise ValueError("secret must be the self-built app's Secret (自建应用 Secret), without spaces")
    return value


def check_callback_token(value: str) -> str:
    if not TOKEN_PATTERN.match(value or ""):
        raise ValueError("callback token must be 1-32 letters or digits (WeCom's rule for the 回调 Token)")
    return value


def check_encoding_aes_key(value: str) -> str:
    try:
        check_aes_key(value)
    except CallbackCryptoError as exc:
        raise ValueError(f"{exc} (the 回调 EncodingAESKey, as WeCom generated it)") from exc
    return value


def validate_fields(
    *,
    name: str | None = None,
    corp_id: str | None = None,
    secret: str | None = None,
    callback_token: str | None = None,
    aes_key: str | None = None,
    bootstrap: str | None = None,
) -> None:
    """Raise Invalid naming the first bad value, coded `bad_<field>` (the console words it
    beside that field); None means "not given"."""
    checks = (
        ("name", name, check_connection_name),
        ("corp_id", corp_id, check_corp_id),
        ("secret", secret, check_secret),
        ("callback_token", callback_token, check_callback_token),
        ("aes_key", aes_key, check_encoding_aes_key),
    )
    for field, value, check in checks:
        if value is not None:
            try:
                check(value)
            except ValueError as exc:
                raise Invalid(str(exc), f"bad_{field}") from exc
    if bootstrap is not None and bootstrap not in BOOTSTRAP_POLICIES:
        raise Invalid(f"bootstrap must be one of {', '.join(BOOTSTRAP_POLICIES)}, not {bootstrap!r}")


ConnectionName = Annotated[str, AfterValidator(check_connection_name)]
CorpId = Annotated[str, AfterValidator(check_corp_id)]
AppSecret = Annotated[str, AfterValidator(check_secret)]
CallbackToken = Annotated[str, AfterValidator(check_callback_token)]
EncodingAesKey = Annotated[str, AfterValidator(check_encoding_aes_key)]


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ConnectionName
    corp_id: CorpId
    secret: AppSecret
    callback_token: CallbackToken
    encoding_aes_key: EncodingAesKey
    bootstrap: Bootstrap = "skip"
    check: bool = Field(True, description="Refuse to save when the check against WeCom fails.")


class ConnectionUpdate(BaseModel):
    """Only the fields given change; a new corp_id or secret is checked against WeCom again."""

    model_config = ConfigDict(extra="forbid")

    name: ConnectionName | None = None
    corp_id: CorpId | None = None
    secret: AppSecret | None = None
    callback_token: CallbackToken | None = None
    encoding_aes_key: EncodingAesKey | None = None
    bootstrap: Bootstrap | None = None
    check: bool = True


class KfAccountOut(BaseModel):
    id: int | None = None
    open_kfid: str
    name: str
    manage_privilege: bool
    authorized: bool = True
    enabled: bool = True


class ConnectionCheckOut(BaseModel):
    ok: bool
    problem: str | None
    message: str
    accounts: list[KfAccountOut]


class ConnectionOut(BaseModel):
    """A connection as shown to people: secrets masked, never in full."""

    id: int
    name: str
    corp_id: str
    secret: str
    callback_token: str
    encoding_aes_key: str
    bootstrap: str
    callback_url: str
    last_check_ok: bool | None
    last_check_message: str | None
    accounts: list[KfAccountOut]
    created_at: datetime
    updated_at: datetime


class ConnectionSaved(BaseModel):
    connection: ConnectionOut
    check: ConnectionCheckOut | None


def callback_url(settings: Settings, connection: Connection) -> str:
    return f"{settings.public_url}/wecom/callback/{connection.id}"


def masked_secret(secrets: SecretBox, sealed: str) -> str:
    try:
        return masked(secrets.open(sealed))
    except SecretDecryptError:
        return "(unreadable: KEFU_SECRET_KEY changed since it was saved)"


def account_out(account: KfAccount) -> KfAccountOut:
    return KfAccountOut(
        id=account.id,
        open_kfid=account.open_kfid,
        name=account.name,
        manage_privilege=account.manage_privilege,
        authorized=account.authorized,
        enabled=account.enabled,
    )


def check_out(check: ConnectionCheck) -> ConnectionCheckOut:
    listed = [
        KfAccountOut(open_kfid=a.open_kfid, name=a.name, manage_privilege=a.manage_privilege is not False)
        for a in check.accounts
    ]
    return ConnectionCheckOut(ok=check.ok, problem=check.problem, message=check.message, accounts=listed)


def connection_out(
    settings: Settings, secrets: SecretBox, connection: Connection, accounts: list[KfAccount]
) -> ConnectionOut:
    """The connection as people see it: secrets masked, the callback URL to paste into WeCom."""
    return ConnectionOut(
        id=connection.id,
        name=connection.name,
        corp_id=connection.corp_id,
        secret=masked_secret(secrets, connection.secret_enc),
        callback_token=masked_secret(secrets, connection.callback_token_enc),
        encoding_aes_key=masked_secret(secrets, connection.aes_key_enc),
        bootstrap=connection.bootstrap,
        callback_url=callback_url(settings, connection),
        last_check_ok=connection.last_check_ok,
        last_check_message=connection.last_check_message,
        accounts=[account_out(a) for a in accounts],
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )
