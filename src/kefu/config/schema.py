"""The configuration file, schema version 1 (docs/configuration.md; shared config-example.yaml).

Every key of the file, with its default and its rules. Unknown keys are refused
(a typo must not be silently ignored). Keys may be added with defaults; renaming
one needs a new version.
"""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, model_validator

from kefu.accounts.schemas import (
    Bootstrap,
    ConnectionName,
    CorpId,
    check_callback_token,
    check_encoding_aes_key,
    check_secret,
)

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

# --- periods -----------------------------------------------------------------------------

_PERIOD = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _minutes(hh: str, mm: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if (h, m) == (24, 0) and end:
        return 24 * 60
    if h > 23 or m > 59:
        raise ValueError(f"{hh}:{mm} is not a time of day (00:00-23:59; 24:00 only as an end)")
    return h * 60 + m


def parse_period(text: str) -> tuple[int, int]:
    """'09:00-12:00' → (540, 720) minutes of the day; raises ValueError in words."""
    match = _PERIOD.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f'period "{text}" must look like "09:00-12:00" (HH:MM-HH:MM, 24-hour)')
    start = _minutes(match[1], match[2], end=False)
    stop = _minutes(match[3], match[4], end=True)
    if stop == start:
        raise ValueError(f'period "{text}" is empty (it ends when it starts); all day is "00:00-24:00"')
    if stop < start:
        raise ValueError(
            f'period "{text}" ends before it starts; a period cannot cross midnight: split it into '
            f'"{match[1]}:{match[2]}-24:00" on this day and "00:00-{match[3]}:{match[4]}" on the next'
        )
    return start, stop


def _check_periods(periods: list[str]) -> list[str]:
    spans = sorted((parse_period(p), p) for p in periods)
    for (first, a), (second, b) in itertools.pairwise(spans):
        if second[0] < first[1]:
            raise ValueError(f'periods "{a}" and "{b}" overlap')
    return periods


def _period(text: str) -> str:
    parse_period(text)
    return text


Period = Annotated[str, AfterValidator(_period)]
Periods = Annotated[list[Period], AfterValidator(_check_periods)]
WORKDAY = ["09:00-18:00"]

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


class AISettings(Strict):
    provider: Literal["builtin", "openai"] = "builtin"
    openai: OpenAISettings | None = None
    not_sure_text: MessageText = "这个问题我暂时无法回答，您可以换个说法，或点击下方按钮联系人工客服。"

    @model_validator(mode="after")
    def _openai_needs_settings(self) -> AISettings:
        if self.provider == "openai" and self.openai is None:
            raise ValueError("provider openai needs the openai: {base_url, model, api_key} settings")
        return self


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


class Weekly(Strict):
    """Periods per weekday; a day left out (or []) is closed."""

    mon: Periods = Field(default_factory=list)
    tue: Periods = Field(default_factory=list)
    wed: Periods = Field(default_factory=list)
    thu: Periods = Field(default_factory=list)
    fri: Periods = Field(default_factory=list)
    sat: Periods = Field(default_factory=list)
    sun: Periods = Field(default_factory=list)


def _office_week() -> Weekly:
    return Weekly(mon=WORKDAY, tue=WORKDAY, wed=WORKDAY, thu=WORKDAY, fri=WORKDAY)


class Hours(Strict):
    weekly: Weekly = Field(default_factory=_office_week)
    statutory_holidays: bool = True
    adjusted_workday: Periods = Field(default_factory=lambda: list(WORKDAY))
    closed_dates: list[date] = Field(default_factory=list)
    extra_working_dates: list[date] = Field(default_factory=list)
    off_hours_message: MessageSetting = _message()
    wait_for_opening: bool = True

    @model_validator(mode="after")
    def _dates_disjoint(self) -> Hours:
        both = sorted(set(self.closed_dates) & set(self.extra_working_dates))
        if both:
            raise ValueError(f"{', '.join(map(str, both))} is both a closed date and an extra working date")
        return self


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


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from exc
    return value


class Account(Strict):
    connection: str = Field(min_length=1)
    open_kfid: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=16)
    avatar: str | None = None
    enabled: bool = True
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"
    servicers: list[Servicer] = Field(default_factory=list)
    reception: Reception = Field(default_factory=Reception)
    hours: Hours = Field(default_factory=Hours)
    queue: Queue = Field(default_factory=Queue)
    routing: Routing = Field(default_factory=Routing)
    messages: Messages = Field(default_factory=Messages)
    session: Session = Field(default_factory=Session)
    knowledge_base: str | None = None

    @model_validator(mode="after")
    def _identity(self) -> Account:
        if self.open_kfid is None and (self.name is None or self.avatar is None):
            raise ValueError("give open_kfid to adopt an existing account, or name and avatar to create one")
        userids = [s.userid for s in self.servicers]
        repeated = sorted({u for u in userids if userids.count(u) > 1})
        if repeated:
            raise ValueError(f"servicer {repeated[0]} is listed more than once")
        return self

    @property
    def key(self) -> str:
        return f"{self.connection}/{self.open_kfid or self.name}"


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

    @property
    def unapplied_sections(self) -> list[str]:
        """Sections this version validates but does not apply yet (see config/apply.py)."""
        present = [name for name in ("ai", "accounts") if name in self.model_fields_set]
        if any(a.knowledge_base for a in self.accounts):
            present.append("knowledge_base")
        return present
