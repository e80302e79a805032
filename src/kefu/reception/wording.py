"""The words of a send: each phrase's fixed text, or the AI's wording of it under a time budget.

Content without AI wording renders with no network, so delivery renders it inside the try's
own transaction; AI wording comes before that transaction (kefu.reception.delivery).
"""

from __future__ import annotations

import asyncio

from kefu.ai.phrasing import PhraseBook
from kefu.logs import get_logger
from kefu.reception.core import Phrase, Send, SendOnEvent, phrases_of
from kefu.runtime import Runtime

log = get_logger(__name__)

PHRASE_BUDGET_S = 3.0  # AI wording of a 20-second code: fall back to the fixed text past this
PHRASE_TIMEOUT_S = 10.0
NEXT_IN_LINE = "pool_notice_next"  # kefu.ai.phrasing's intent for the pool notice, nobody ahead


async def render(
    rt: Runtime, account_id: int, extra: dict[str, str], action: Send | SendOnEvent
) -> list[str]:
    """The text of each phrase of the content: fixed text, or AI phrasing under a time budget
    (short for a 20-second code) that falls back to the fixed text or a default wording. `extra`:
    the facts only the shell knows (service.shell_facts)."""
    budget = PHRASE_BUDGET_S if isinstance(action, SendOnEvent) and action.deadline else PHRASE_TIMEOUT_S
    texts = []
    for phrase in [first_in_line(p, extra) for p in phrases_of(action.content)]:
        text = None
        if phrase.mode == "ai":
            facts = {**phrase.facts, **extra}
            if phrase.intent == NEXT_IN_LINE:
                facts.pop("position", None)  # a wording of "you are next" holds no number
            text = await _ai_phrase(rt, account_id, phrase, facts, budget)
        texts.append(text or _fixed(phrase, extra))
    return texts


def first_in_line(phrase: Phrase, extra: dict[str, str]) -> Phrase:
    """A pool notice to a customer nobody waits ahead of says so (「您是下一位」), not 「您前面还有
    0 位」: the admin's next-in-line text, or AI phrasing's intent for that case. A fixed text
    with no next-in-line text is the admin's own wording: sent as written."""
    if phrase.intent != "pool_notice" or extra.get("position") != "0":
        return phrase
    if phrase.mode == "fixed":
        if phrase.next_in_line_text is None:
            return phrase
        return phrase.model_copy(update={"fixed_text": phrase.next_in_line_text})
    return phrase.model_copy(update={"intent": NEXT_IN_LINE, "fixed_text": phrase.next_in_line_text})


async def _ai_phrase(
    rt: Runtime, account_id: int, phrase: Phrase, facts: dict[str, str], budget_s: float
) -> str | None:
    from kefu.accounts.knowledge_provider import ai_for_account

    async def word() -> str:
        provider = await ai_for_account(rt, account_id)  # may build its index: in the budget
        return await provider.phrase(phrase.intent, facts)

    try:
        text = await asyncio.wait_for(word(), budget_s)
    except Exception as exc:  # the AI is a guest: its failure falls back to the fixed wording
        log.error("reception.phrase_failed", intent=phrase.intent, error=f"{type(exc).__name__}: {exc}")
        return None
    return text.strip() or None


def needs_ai(action: Send | SendOnEvent) -> bool:
    return any(phrase.mode == "ai" for phrase in phrases_of(action.content))


def render_fixed(action: Send | SendOnEvent, extra: dict[str, str]) -> list[str]:
    """`render` for content without AI wording: no network, so it runs in the try's transaction."""
    return [_fixed(first_in_line(phrase, extra), extra) for phrase in phrases_of(action.content)]


def _fixed(phrase: Phrase, extra: dict[str, str]) -> str:
    if phrase.fixed_text:
        return phrase.fixed(extra)
    return PhraseBook().render(phrase.intent, 0, {**phrase.facts, **extra})
