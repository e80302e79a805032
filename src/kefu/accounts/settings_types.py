"""An account's settings: reception rules, queue, routing, messages and session (versioned on
`KfAccount.settings`, see kefu.accounts.settings).

These are the domain's types: the config file's account entry (kefu.config.schema) extends
`AccountSettingsData` with the account's identity, and the reception core reads them through
`kefu.reception.core.settings.AccountSettings`. Pure models: no I/O. Each rule refuses with a
PydanticCustomError: a code the console words in the reader's language, and the English text
the config file, the API and the CLI show (kefu.schema_types).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from kefu.ai.settings import AISettings
from kefu.hours.schema import DEFAULT_TIMEZONE, HoursSettings, TimeZoneName
from kefu.schema_types import MENU_MAX_ITEMS, STORED, ButtonText, MessageText, Strict

# --- messages ----------------------------------------------------------------------------

MessageMode = Literal["ai", "fixed", "none"]


class MessageSetting(Strict):
    """A message Kefu may send: AI phrasing, a fixed text, or nothing."""

    mode: MessageMode = "none"
    text: MessageText | None = None

    @model_validator(mode="after")
    def _fixed_needs_text(self) -> MessageSetting:
        if self.mode == "fixed" and not (self.text or "").strip():
            raise PydanticCustomError("fixed_needs_text", "mode fixed needs a text")
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
            raise PydanticCustomError(
                "survey_needs_options", "a survey needs at least one option ({label, score})"
            )
        return self


class NoReplyNotice(Strict):
    enabled: bool = False
    minutes: int = Field(5, ge=1)
    text: MessageText | None = None

    @model_validator(mode="after")
    def _enabled_needs_text(self) -> NoReplyNotice:
        if self.enabled and not (self.text or "").strip():
            raise PydanticCustomError("notice_needs_text", "an enabled no_reply_notice needs a text")
        return self


class KeywordTransfer(Strict):
    enabled: bool = True
    # How customers ask for a person, each contained in a message ("你好，我要人工" has 要人工).
    keywords: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["转人工", "人工客服", "找人工", "要人工", "人工服务", "真人客服"]
    )

    @model_validator(mode="after")
    def _enabled_needs_keywords(self) -> KeywordTransfer:
        if self.enabled and not self.keywords:
            raise PydanticCustomError("keywords_empty", "keyword transfer is enabled but lists no keywords")
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
    not_sure_streak: NotSureStreak = Field(default_factory=lambda: NotSureStreak.model_validate({}))
    non_text_reply: MessageSetting = _message("fixed", "暂时只能识别文字，请用文字描述")


def _check_placeholder(text: str | None, name: str, info: ValidationInfo) -> None:
    """A text's one placeholder (`{position}` of the pool notice, `{servicer}` of the taken
    notice; the shell fills it): any other, or a lone brace, is refused where it is typed. Text
    stored before the rule (an earlier Kefu took any braces) is read as it is: refusing it there
    would stop the account; the shell leaves braces it does not fill as written."""
    if info.context and info.context.get(STORED):
        return
    allowed = f"{{{name}}}"  # a value, so that no template's own braces are taken for it
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text or "") if f is not None}
    except ValueError as exc:  # a lone { or }
        raise PydanticCustomError(
            "placeholder_braces", "{error}", {"error": str(exc), "allowed": allowed}
        ) from exc
    if fields - {name}:
        raise PydanticCustomError(
            "placeholder_not_allowed",
            "the only placeholder allowed is {allowed}, not {placeholder}",
            {"allowed": allowed, "placeholder": f"{{{sorted(fields - {name})[0]}}}"},
        )


def _only_placeholder(name: str) -> Callable[[MessageSetting, ValidationInfo], MessageSetting]:
    def check(setting: MessageSetting, info: ValidationInfo) -> MessageSetting:
        _check_placeholder(setting.text, name, info)
        return setting

    return check


class PoolNotice(MessageSetting):
    """The queue message. `{position}` counts who waits ahead, so the first in line would read
    「您前面还有 0 位」: `next_in_line_text`, when set, is what a fixed-text notice says to them
    instead (AI phrasing words that case on its own, intent `pool_notice_next`). Unset, the
    admin's text is sent as written, 0 included."""

    next_in_line_text: MessageText | None = None

    @field_validator("next_in_line_text")
    @classmethod
    def _next_placeholder(cls, value: str | None, info: ValidationInfo) -> str | None:
        _check_placeholder(value, "position", info)
        return value


# A servicer's own 接待上限: no person serves more customers at once, so past it a cap is a typing
# slip (and one past the INTEGER column's range was a server error). The account's default is
# not bounded: it lives in the settings' JSON, where a bound added now would break stored ones.
MAX_SESSIONS_CAP = 1000


# What a customer reads when WeCom refuses their request for a human twice (Kefu asks once more
# after the first refusal): the queue is not full then, so the over-length message would mislead.
TRANSFER_REFUSED_TEXT = "抱歉，暂时无法为您转接人工客服，请稍后再试。"


class Queue(Strict):
    default_max_sessions: int = Field(10, ge=1)
    max_length: int | None = Field(None, ge=1)
    over_length_message: MessageSetting = _message()
    transfer_refused_message: MessageSetting = _message("fixed", TRANSFER_REFUSED_TEXT)
    timeout_minutes: int | None = Field(None, ge=1)
    timeout_message: MessageSetting = _message()
    pool_notice: Annotated[PoolNotice, AfterValidator(_only_placeholder("position"))] = Field(
        default_factory=PoolNotice
    )
    taken_notice: Annotated[MessageSetting, AfterValidator(_only_placeholder("servicer"))] = _message()
    no_reply_notice: NoReplyNotice = Field(default_factory=lambda: NoReplyNotice.model_validate({}))

    @model_validator(mode="after")
    def _one_message_per_taken_code(self) -> Queue:
        # Both go out with the session's taken code, and WeCom allows one message per code.
        if self.no_reply_notice.enabled and self.taken_notice.mode != "none":
            raise PydanticCustomError(
                "taken_code_shared",
                "no_reply_notice and taken_notice both need the session's taken code, which carries "
                "one message: set taken_notice mode none to enable the no-reply notice",
            )
        return self


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
            raise PydanticCustomError(
                "rule_repeated", "rule {rule} is listed more than once", {"rule": repeated[0]}
            )
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
    queue: Queue = Field(default_factory=lambda: Queue.model_validate({}))
    routing: Routing = Field(default_factory=Routing)
    messages: Messages = Field(default_factory=Messages)
    session: Session = Field(default_factory=lambda: Session.model_validate({}))

    @model_validator(mode="after")
    def _dates_disjoint(self) -> AccountSettingsData:
        both = sorted(set(self.hours.closed_dates) & set(self.hours.extra_working_dates))
        if both:
            raise PydanticCustomError(
                "dates_closed_and_working",
                "hours: {dates} is both a closed date and an extra working date",
                {"dates": ", ".join(map(str, both))},
            )
        return self

    def check_ai(self, ai: AISettings) -> None:
        """Raise a PydanticCustomError (a ValueError) when the reception mode needs an AI that is
        not configured."""
        if self.reception.mode != "human_only" and not ai.configured:
            raise PydanticCustomError(
                "mode_needs_ai",
                "reception mode {mode} needs an AI service, but ai.provider is none: "
                "choose human_only, or set ai.provider to builtin (the knowledge base) or openai",
                {"mode": self.reception.mode},
            )


SETTINGS_KEYS = tuple(AccountSettingsData.model_fields)
