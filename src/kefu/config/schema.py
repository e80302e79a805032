"""The configuration file, schema version 1 (docs/configuration.md; shared config-example.yaml).

Every key of the file, with its default and its rules. Unknown keys are refused
(a typo must not be silently ignored). Keys may be added with defaults; renaming
one needs a new version. The file is built from the domain's settings types
(kefu.accounts.settings_types, kefu.ai.settings, kefu.hours): only what is the file's
own — connections, an account's identity and servicer list, the version — is defined here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from kefu.accounts.kf_schemas import ServicerName
from kefu.accounts.schemas import (
    Bootstrap,
    ConnectionName,
    CorpId,
    check_callback_token,
    check_encoding_aes_key,
    check_secret,
)
from kefu.accounts.settings_types import MAX_SESSIONS_CAP, SETTINGS_KEYS, AccountSettingsData
from kefu.ai.settings import AISettings
from kefu.schema_types import Strict, secret_check

SCHEMA_VERSION = 1

AppSecretValue = Annotated[Any, secret_check(check_secret)]
CallbackTokenValue = Annotated[Any, secret_check(check_callback_token)]
AesKeyValue = Annotated[Any, secret_check(check_encoding_aes_key)]


class Servicer(Strict):
    userid: str = Field(min_length=1, max_length=64)
    max_sessions: int | None = Field(None, ge=1, le=MAX_SESSIONS_CAP)
    name: ServicerName | None = None  # not given: none (as max_sessions: the default)


class Account(AccountSettingsData):
    connection: str = Field(min_length=1)
    open_kfid: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=16)
    avatar: str | None = None  # a path relative to the file; not given: keep (a new account: default)
    enabled: bool = True
    servicers: list[Servicer] | None = None  # not given: leave the list as it is
    knowledge_base: str | None = None  # not given: leave the knowledge base as it is

    @model_validator(mode="after")
    def _identity(self) -> Account:
        if self.open_kfid is None and self.name is None:
            raise ValueError("give open_kfid to adopt an existing account, or a name to create one")
        userids = [s.userid for s in self.servicers or []]
        repeated = sorted({u for u in userids if userids.count(u) > 1})
        if repeated:
            raise ValueError(f"servicer {repeated[0]} is listed more than once")
        return self

    @property
    def key(self) -> str:
        return f"{self.connection}/{self.open_kfid or self.name}"

    def settings_data(self) -> AccountSettingsData:
        return AccountSettingsData.model_validate(self.model_dump(include=set(SETTINGS_KEYS)))


class ConnectionEntry(Strict):
    name: ConnectionName
    corp_id: CorpId
    secret: AppSecretValue
    callback_token: CallbackTokenValue
    encoding_aes_key: AesKeyValue
    bootstrap: Bootstrap = "skip"


class KefuConfig(Strict):
    version: int
    connections: list[ConnectionEntry] = Field(default_factory=list)
    ai: AISettings = Field(default_factory=AISettings)
    accounts: list[Account] = Field(default_factory=list)
