"""The AI provider interface the reception shell talks to, whatever answers behind it."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kefu.ai.chars import SmallTalkKind
from kefu.ai.knowledge import KnowledgeEntry


class Turn(BaseModel):
    """One earlier message of the conversation, oldest first in `AnswerContext.recent_turns`."""

    model_config = ConfigDict(frozen=True)

    role: Literal["customer", "ai", "servicer", "system"]
    text: str


class AnswerContext(BaseModel):
    """What a provider may know besides the question: whose knowledge base, and what was said
    (`recent_turns` is read only for a provider whose class sets `reads_recent_turns = True`)."""

    model_config = ConfigDict(frozen=True)

    account_id: int | None = None
    recent_turns: list[Turn] = Field(default_factory=list)


class Answer(BaseModel):
    """A reply to a customer's question.

    `not_sure` answers carry the configured "not sure" text and no entry; the
    shell offers the transfer button on them (AI-first mode). A `small_talk` answer (a message
    that only greets, thanks, acknowledges or says goodbye) carries the admin's reply for its
    kind, empty for none, and no entry: it is neither sure nor not sure of anything.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    entry: KnowledgeEntry | None
    not_sure: bool
    small_talk: SmallTalkKind | None = None

    @model_validator(mode="after")
    def _small_talk_answers_nothing(self) -> Answer:
        if self.small_talk is not None and (self.not_sure or self.entry is not None):
            raise ValueError("a small-talk answer is neither not-sure nor from an entry")
        return self


@runtime_checkable
class AIProvider(Protocol):
    async def answer(self, question: str, context: AnswerContext) -> Answer:
        """Answer one customer text message."""
        ...

    async def phrase(self, intent: str, facts: dict[str, str]) -> str:
        """A fresh wording of a system message (see kefu.ai.phrasing.INTENTS), placeholders filled."""
        ...
