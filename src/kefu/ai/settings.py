"""The `ai:` settings section: which AI answers, its "not sure" text, small-talk replies,
threshold and phrasings.

The config file's `ai:` section is this model (kefu.config.schema uses it as is); stored as the
versioned GlobalSetting 'ai' (kefu.accounts.settings). Each rule refuses with a
PydanticCustomError: a code the console words, and the English reason (kefu.schema_types).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from kefu.ai.builtin import DEFAULT_NOT_SURE_TEXT, DEFAULT_SMALL_TALK, DEFAULT_THRESHOLD
from kefu.ai.chars import SMALL_TALK_KINDS, SmallTalkKind
from kefu.ai.phrasing import PhraseBook, PhraseError
from kefu.schema_types import AdminText, MessageText, Strict, http_url, secret_check

ApiKeyValue = Annotated[Any, secret_check(lambda v: v)]


class OpenAISettings(Strict):
    base_url: Annotated[str, AfterValidator(http_url)]
    api_key: ApiKeyValue | None = None  # local servers (vLLM, Ollama) may need none
    model: str = Field(min_length=1)
    timeout_s: float = Field(8, gt=0, le=120)


def _phrases(value: dict[str, list[str]]) -> dict[str, list[str]]:
    try:
        PhraseBook(value)  # unknown intents, bad placeholders and empty lists are refused in words
    except PhraseError as exc:  # as a validation problem, so the config file names its line and path
        raise PydanticCustomError("phrases_invalid", "{reason}", {"reason": str(exc)}) from exc
    return value


def _synonyms(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for canonical, variants in value.items():
        if not canonical.strip() or not all(v.strip() for v in variants):
            raise PydanticCustomError(
                "synonym_empty",
                "synonyms: empty term in {quoted}: {variants}",
                {"quoted": repr(canonical), "term": canonical, "variants": str(variants)},
            )
    return value


def _not_blank(value: str) -> str:
    # The knowledge base (and every AI mode's reply) needs it: blank, no AI could start.
    if not value.strip():
        raise PydanticCustomError("not_sure_text_empty", "the not-sure text must not be empty")
    return value


class SmallTalkReplies(Strict):
    """The reply to a whole message that only greets, thanks, acknowledges or says goodbye
    (kefu.ai.chars.SMALL_TALK), one per kind; empty (or blank): no reply. Whichever provider
    answers, sent as written, without the transfer button."""

    greeting: MessageText = DEFAULT_SMALL_TALK["greeting"]
    thanks: MessageText = DEFAULT_SMALL_TALK["thanks"]
    acknowledgement: MessageText = DEFAULT_SMALL_TALK["acknowledgement"]
    goodbye: MessageText = DEFAULT_SMALL_TALK["goodbye"]

    def by_kind(self) -> dict[SmallTalkKind, str]:
        return {kind: getattr(self, kind) for kind in SMALL_TALK_KINDS}


class AISettings(Strict):
    """The `ai:` section (a GlobalSetting 'ai', versioned). `none` means no AI service:
    then only human_only accounts are allowed."""

    provider: Literal["builtin", "openai", "none"] = "builtin"
    openai: OpenAISettings | None = None
    not_sure_text: Annotated[MessageText, AfterValidator(_not_blank)] = DEFAULT_NOT_SURE_TEXT
    small_talk: SmallTalkReplies = Field(default_factory=SmallTalkReplies)
    # Which retrieval answers: "auto" is hybrid (character BM25 + embeddings) when the
    # `kefu[embeddings]` extra is installed, else lexical; "hybrid" refuses to start without it.
    retrieval: Literal["auto", "lexical", "hybrid"] = "auto"
    # The built-in knowledge base answers at or above this confidence (0…1), else "not sure".
    # 0.5 is the abstain point calibrated on labelled data (kefu.ai.knowledge).
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    # The admin's terms: canonical → variants customers write (e.g. 云笺: [云签, yunjian]); each
    # variant is read as the canonical term by the built-in knowledge base's retrieval.
    synonyms: Annotated[dict[str, list[str]], AfterValidator(_synonyms)] = Field(default_factory=dict)
    # intent → the admin's own wordings for AI phrasing (kefu.ai.phrasing.INTENTS); unset = defaults.
    phrases: Annotated[dict[str, list[AdminText]], AfterValidator(_phrases)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _openai_needs_settings(self) -> AISettings:
        if self.provider == "openai" and self.openai is None:
            # No values: the braces below are the message's own, not placeholders.
            raise PydanticCustomError(
                "openai_needs_settings",
                "provider openai needs the openai: {base_url, model, api_key} settings",
            )
        return self

    @property
    def configured(self) -> bool:
        """Whether the AI modes may be used (the built-in knowledge base counts)."""
        return self.provider != "none"
