"""The configuration file, schema version 1 (docs/configuration.md; shared config-example.yaml).

Every key of the file, with its default and its rules. Unknown keys are refused
(a typo must not be silently ignored). Keys may be added with defaults; renaming
one needs a new version.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, model_validator

from kefu.accounts.schemas import (
    Bootstrap,
    ConnectionName,
    CorpId,
    check_callback_token,
    check_encoding_aes_key,
    check_secret,
)
from kefu.ai.builtin import DEFAULT_NOT_SURE_TEXT, DEFAULT_THRESHOLD
from kefu.ai.phrasing import PhraseBook
from kefu.hours.schema import DEFAULT_TIMEZONE, HoursSettings, TimeZoneName

SCHEMA_VERSION = 1
TEXT_MAX_BYTES = 2048  # a WeCom text message (wecom-kf-api.md §5.2)
BUTTON_MAX_BYTES = 128  # a msgmenu click item
MENU_MAX_ITEMS = 10


@dataclass(frozen=True)
class UnsetVar:
    """A secret written as `${NAME}` whose variable is not set: keep the stored value."""

    name: str


def _secret(check: Any) -> Any:
    def validate(value: Any) -> str | UnsetVar:
        if isinstance(value, UnsetVar):
            return value
        if not isinstance(value, str):
            raise ValueError("must be a string (write secrets as ${ENV_VAR})")
        return check(value)

    return Annotated[Any, PlainValidator(validate)]


AppSecretValue = _secret(check_secret)
CallbackTokenValue = _secret(check_callback_token)
AesKeyValue = _secret(check_encoding_aes_key)
ApiKeyValue = _secret(lambda v: v)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _utf8_at_most(limit: int, what: str) -> Any:
    def check(value: str) -> str:
        size = len(value.encode())
        if size > limit:
            raise ValueError(f"{what} is {size} bytes in UTF-8; WeCom allows at most {limit}")
        return value

    return AfterValidator(check)


MessageText = Annotated[str, _utf8_at_most(TEXT_MAX_BYTES, "the text")]
ButtonText = Annotated[str, Field(min_length=1), _utf8_at_most(BUTTON_MAX_BYTES, "the button text")]

# --- messages ----------------------------------------------------------------------------

MessageMode = Literal["ai", "fixed", "none"]


class MessageSetting(Strict):
    """A message Kefu may send: AI phrasing, a fixed text, or nothing."""

    mode: MessageMode = "none"
    text: MessageText | None = None

    @model_validator(mode="after")
    def _fixed_needs_text(self) -> MessageSetting:
        if self.mode == "fixed" and not (self.text or "").strip():
            raise ValueError("mode fixed needs a text")
        return self


def _message(mode: MessageMode = "none", text: str | None = None) -> Any:
    return Field(default_factory=lambda: MessageSetting(mode=mode, text=text))


class SurveyOption(Strict):
    label: ButtonText
    score: int = Field(ge=0, le=100)


class SurveySetting(MessageSetting):
    options: list[SurveyOption] = Field(default_factory=list, max_length=MENU_MAX_ITEMS)

    @model_validator(mode="after")
    def _needs_options(self) -> SurveySetting:
        if self.mode != "none" and not self.options:
            raise ValueError("a survey needs at least one option ({label, score})")
        return self


class NoReplyNotice(Strict):
    enabled: bool = False
    minutes: int = Field(5, ge=1)
    text: MessageText | None = None

    @model_validator(mode="after")
    def _enabled_needs_text(self) -> NoReplyNotice:
        if self.enabled and not (self.text or "").strip():
            raise ValueError("an enabled no_reply_notice needs a text")
        return self


# --- AI ----------------------------------------------------------------------------------


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} must be an http:// or https:// URL")
    return value.rstrip("/")


class OpenAISettings(Strict):
    base_url: Annotated[str, AfterValidator(_http_url)]
    api_key: ApiKeyValue | None = None  # local servers (vLLM, Ollama) may need none
    model: str = Field(min_length=1)
    timeout_s: float = Field(8, gt=0, le=120)


def _phrases(value: dict[str, list[str]]) -> dict[str, list[str]]:
    PhraseBook(value)  # unknown intents, bad placeholders and empty lists are refused in words
    return value


class AISettings(Strict):
    """The `ai:` section (a GlobalSetting 'ai', versioned). `none` means no AI service:
    then only human_only accounts are allowed."""

    provider: Literal["builtin", "openai", "none"] = "builtin"
    openai: OpenAISettings | None = None
    not_sure_text: MessageText = DEFAULT_NOT_SURE_TEXT
    # The built-in knowledge base answers at or above this confidence (0…1), else "not sure".
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    # intent → the admin's own wordings for AI phrasing (kefu.ai.phrasing.INTENTS); unset = defaults.
    phrases: Annotated[dict[str, list[str]], AfterValidator(_phrases)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _openai_needs_settings(self) -> AISettings:
        if self.provider == "openai" and self.openai is None:
            raise ValueError("provider openai needs the openai: {base_url, model, api_key} settings")
        return self

    @property
    def configured(self) -> bool:
        """Whether the AI modes may be used (the built-in knowledge base counts)."""
        return self.provider != "none"


# --- accounts ----------------------------------------------------------------------------


class Servicer(Strict):
    userid: str = Field(min_length=1, max_length=64)
    max_sessions: int | None = Field(None, ge=1)


class KeywordTransfer(Strict):
    enabled: bool = True
    keywords: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["转人工", "人工客服"]
    )

    @model_validator(mode="after")
    def _enabled_needs_keywords(self) -> KeywordTransfer:
        if self.enabled and not self.keywords:
            raise ValueError("keyword transfer is enabled but lists no keywords")
        return self


class ButtonTransfer(Strict):
    enabled: bool = True
    text: ButtonText = "转人工"


class NotSureStreak(Strict):
    enabled: bool = True
    count: int = Field(2, ge=1)


class Reception(Strict):
    mode: Literal["ai_first", "ai_only", "human_only"] = "ai_first"
    keyword_transfer: KeywordTransfer = Field(default_factory=KeywordTransfer)
    button_transfer: ButtonTransfer = Field(default_factory=ButtonTransfer)
    not_sure_streak: NotSureStreak = Field(default_factory=NotSureStreak)
    non_text_reply: MessageSetting = _message("fixed", "暂时只能识别文字，请用文字描述")


def _position_only(setting: MessageSetting) -> MessageSetting:
    fields = {f for _, f, _, _ in string.Formatter().parse(setting.text or "") if f is not None}
    if fields - {"position"}:
        raise ValueError(
            f"the only placeholder allowed is {{position}}, not {{{sorted(fields - {'position'})[0]}}}"
        )
    return setting


class Queue(Strict):
    default_max_sessions: int = Field(10, ge=1)
    max_length: int | None = Field(None, ge=1)
    over_length_message: MessageSetting = _message()
    timeout_minutes: int | None = Field(None, ge=1)
    timeout_message: MessageSetting = _message()
    pool_notice: Annotated[MessageSetting, AfterValidator(_position_only)] = _message()
    taken_notice: MessageSetting = _message()
    no_reply_notice: NoReplyNotice = Field(default_factory=NoReplyNotice)


class RoutingRule(Strict):
    rule: Literal["exclusive", "last", "idle", "round_robin"]
    when_unavailable: Literal["next", "wait"] = "next"


class Routing(Strict):
    rules: list[RoutingRule] = Field(default_factory=lambda: [RoutingRule(rule="idle")], min_length=1)

    @model_validator(mode="after")
    def _rules_once(self) -> Routing:
        names = [r.rule for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule {repeated[0]} is listed more than once")
        return self


class Messages(Strict):
    welcome: MessageSetting = _message()
    ending: MessageSetting = _message()
    survey: SurveySetting = Field(default_factory=SurveySetting)
    paused: MessageSetting = _message()


class Session(Strict):
    ai_idle_timeout_minutes: int | None = Field(None, ge=1)


class AccountSettingsData(Strict):
    """An account's settings as stored on `KfAccount.settings` (versioned): the config file's
    account entry minus its identity (connection, open_kfid, name, avatar, enabled, servicers,
    knowledge_base). The reception core reads them through `AccountSettings.from_config`."""

    timezone: TimeZoneName = DEFAULT_TIMEZONE
    reception: Reception = Field(default_factory=Reception)
    hours: HoursSettings = Field(default_factory=HoursSettings)
    queue: Queue = Field(default_factory=Queue)
    routing: Routing = Field(default_factory=Routing)
    messages: Messages = Field(default_factory=Messages)
    session: Session = Field(default_factory=Session)

    @model_validator(mode="after")
    def _dates_disjoint(self) -> AccountSettingsData:
        both = sorted(set(self.hours.closed_dates) & set(self.hours.extra_working_dates))
        if both:
            raise ValueError(
                f"hours: {', '.join(map(str, both))} is both a closed date and an extra working date"
            )
        return self

    def check_ai(self, ai: AISettings) -> None:
        """Raise ValueError when the reception mode needs an AI that is not configured."""
        if self.reception.mode != "human_only" and not ai.configured:
            raise ValueError(
                f"reception mode {self.reception.mode} needs an AI service, but ai.provider is none: "
                "choose human_only, or set ai.provider to builtin (the knowledge base) or openai"
            )


SETTINGS_KEYS = tuple(AccountSettingsData.model_fields)


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

    @model_validator(mode="before")
    @classmethod
    def _version_first(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("version") != SCHEMA_VERSION:
            raise ValueError(
                f"version must be {SCHEMA_VERSION} (this Kefu reads schema version {SCHEMA_VERSION}), "
                f"got {data.get('version')!r}"
            )
        return data
