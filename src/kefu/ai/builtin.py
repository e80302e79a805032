"""The default, offline provider: answers from the knowledge base, phrases from the PhraseBook."""

from __future__ import annotations

import random
from collections.abc import Mapping

from kefu.ai.chars import SmallTalkKind, small_talk_kind
from kefu.ai.knowledge import KnowledgeIndex
from kefu.ai.phrasing import PhraseBook
from kefu.ai.provider import Answer, AnswerContext
from kefu.errors import Invalid

# Confidence 0.5 is the calibrated abstain point (kefu.ai.knowledge): chosen from labelled data.
DEFAULT_THRESHOLD = 0.5
DEFAULT_NOT_SURE_TEXT = "这个问题我暂时无法回答，您可以换个说法，或点击下方按钮联系人工客服。"
# The default as it goes out with no button under it (AI only, button transfer off, off hours):
# it must not point at one. A not-sure text the admin wrote is sent as written.
DEFAULT_NOT_SURE_TEXT_NO_BUTTON = "这个问题我暂时无法回答，您可以换个说法再问我。"
# The reply to each kind of small talk (`ai.small_talk`); empty: none. An acknowledgement
# (好的, 收到, 嗯) closes the customer's turn: a desk does not answer it, and a bot that does
# invites "好的" ping-pong.
DEFAULT_SMALL_TALK: dict[SmallTalkKind, str] = {
    "greeting": "您好，请问有什么可以帮您？",
    "thanks": "不客气，还有其他问题随时告诉我。",
    "acknowledgement": "",
    "goodbye": "再见，祝您生活愉快！",
}


class KnowledgeBaseProvider:
    """Answers with the best knowledge entry at or above `threshold`, else with `not_sure_text`;
    small talk with the reply for its kind (`small_talk`, the defaults for kinds it leaves out).

    The recent turns of the context are not used: retrieval looks at the
    question alone, so a follow-up like "那洗衣机呢" is a not-sure answer.
    `phrase` never gives an intent the same variant twice in a row (per
    provider instance) when it has two or more.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        not_sure_text: str = DEFAULT_NOT_SURE_TEXT,
        phrasings: PhraseBook | None = None,
        rng: random.Random | None = None,
        small_talk: Mapping[SmallTalkKind, str] | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise Invalid(f"the confidence threshold must be between 0 and 1, not {threshold}")
        if not not_sure_text.strip():
            raise Invalid("the not-sure text must not be empty")
        self.index = index
        self.threshold = threshold
        self.not_sure_text = not_sure_text
        self.small_talk = {**DEFAULT_SMALL_TALK, **(small_talk or {})}
        self.phrasings = phrasings or PhraseBook()
        self._rng = rng or random.Random()  # wording variety, not security
        self._last_variant: dict[str, int] = {}

    async def answer(self, question: str, context: AnswerContext) -> Answer:
        return self.answer_now(question)

    def answer_now(self, question: str) -> Answer:
        """The synchronous core of `answer` (lexical retrieval takes about a millisecond)."""
        if (small_talk := self.small_talk_answer(question)) is not None:
            return small_talk
        matches = self.index.search(question, limit=1)
        best = matches[0] if matches else None
        if best is None or best.confidence < self.threshold:
            confidence = best.confidence if best else 0.0
            return Answer(text=self.not_sure_text, confidence=confidence, entry=None, not_sure=True)
        return Answer(text=best.entry.answer, confidence=best.confidence, entry=best.entry, not_sure=False)

    def small_talk_answer(self, question: str) -> Answer | None:
        """The reply to a message that is only small talk (kefu.ai.chars), else None — also when
        an entry has that very question: the admin's entry answers then, as it always did."""
        kind = small_talk_kind(question)
        if kind is None or self.index.has_question(question):
            return None
        return Answer(text=self.small_talk[kind], confidence=0.0, entry=None, not_sure=False, small_talk=kind)

    async def phrase(self, intent: str, facts: dict[str, str]) -> str:
        return self.phrase_now(intent, facts)

    def phrase_now(self, intent: str, facts: dict[str, str]) -> str:
        """The synchronous core of `phrase`."""
        intent, facts = self.phrasings.resolve(intent, facts)
        self.phrasings.check_facts(intent, facts)
        count = len(self.phrasings.variants(intent))
        choices = [i for i in range(count) if i != self._last_variant.get(intent)] or [0]
        variant = self._rng.choice(choices)
        self._last_variant[intent] = variant
        return self.phrasings.render(intent, variant, facts)
