"""Wordings of system messages: variety without repeats, placeholders filled, mistakes caught early."""

from __future__ import annotations

import itertools
import random

import pytest

from kefu.ai import INTENTS, AIProvider, KnowledgeBaseProvider, KnowledgeIndex, PhraseBook, PhraseError
from kefu.ai.phrasing import DEFAULT_PHRASES, check_template, placeholders
from kefu.errors import Invalid

FACTS = {"hours": "每天 09:00-21:00", "position": "3"}


def provider(phrasings: PhraseBook | None = None, seed: int = 1) -> KnowledgeBaseProvider:
    return KnowledgeBaseProvider(KnowledgeIndex.build([]), phrasings=phrasings, rng=random.Random(seed))


def test_every_intent_has_at_least_three_valid_default_wordings() -> None:
    assert set(DEFAULT_PHRASES) == set(INTENTS) >= {
        "off_hours", "welcome", "ending", "survey", "pool_notice", "taken_notice",
        "paused", "non_text", "queue_timeout", "over_length", "not_sure",
    }  # fmt: skip
    for intent, variants in DEFAULT_PHRASES.items():
        assert len(set(variants)) >= 3, intent
        for template in variants:
            check_template(intent, template)


def test_the_builtin_provider_is_an_ai_provider() -> None:
    assert isinstance(provider(), AIProvider)


async def test_phrase_never_repeats_the_previous_variant() -> None:
    ai = provider(seed=42)
    for intent in INTENTS:
        said = [await ai.phrase(intent, FACTS) for _ in range(60)]
        assert all(a != b for a, b in itertools.pairwise(said)), intent
        assert len(set(said)) == len(DEFAULT_PHRASES[intent]), intent  # and uses them all


async def test_phrase_with_two_variants_alternates() -> None:
    book = PhraseBook({"welcome": ["您好A", "您好B"]})
    ai = provider(book)
    said = [await ai.phrase("welcome", {}) for _ in range(10)]
    assert said == ["您好A", "您好B"] * 5 or said == ["您好B", "您好A"] * 5


async def test_phrase_with_one_variant_repeats_it() -> None:
    ai = provider(PhraseBook({"ending": ["再见"]}))
    assert [await ai.phrase("ending", {}) for _ in range(3)] == ["再见"] * 3


async def test_phrase_fills_placeholders() -> None:
    ai = provider()
    for _ in range(5):
        text = await ai.phrase("off_hours", FACTS)
        assert "每天 09:00-21:00" in text and "{" not in text
        notice = await ai.phrase("pool_notice", {"position": "7"})
        assert "7" in notice and "{" not in notice


async def test_phrase_with_a_missing_fact_fails_whichever_variant_would_be_chosen() -> None:
    book = PhraseBook({"off_hours": ["休息中", "服务时间：{hours}"]})
    for seed in range(10):
        with pytest.raises(PhraseError, match="hours"):
            await provider(book, seed).phrase("off_hours", {})


async def test_phrase_unknown_intent() -> None:
    with pytest.raises(PhraseError, match="unknown intent"):
        await provider().phrase("goodbye", {})


def test_admin_overrides_replace_the_defaults_of_their_intent_only() -> None:
    book = PhraseBook({"welcome": ["  欢迎来到青禾！ ", "青禾家电为您服务"]})
    assert book.variants("welcome") == ("欢迎来到青禾！", "青禾家电为您服务")
    assert book.variants("ending") == DEFAULT_PHRASES["ending"]
    assert book.overrides == {"welcome": ("欢迎来到青禾！", "青禾家电为您服务")}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"welcome": ["您好，{name}"]}, r"uses \{name\}; placeholders it may use: none"),
        ({"off_hours": ["时间 {hour}"]}, r"uses \{hour\}; placeholders it may use: \{hours\}"),
        ({"taken_notice": ["{position} 号客服"]}, r"placeholders it may use: \{servicer\}"),
        ({"pool_notice": ["还有 {} 位"]}, "write placeholders as"),
        ({"pool_notice": ["还有 {position:>3} 位"]}, "write placeholders as"),
        ({"pool_notice": ["还有 {position.real} 位"]}, "write placeholders as"),
        ({"welcome": ["您好 {"]}, "unbalanced braces"),
        ({"welcome": ["   "]}, "empty"),
        ({"welcome": []}, "at least one"),
        ({"welcome": ["好" * 601]}, "longer than"),
        ({"hello": ["您好"]}, "unknown intent"),
    ],
)
def test_bad_overrides_are_refused_when_set(overrides: dict[str, list[str]], message: str) -> None:
    with pytest.raises(PhraseError, match=message) as caught:
        PhraseBook(overrides)
    assert isinstance(caught.value, Invalid) and caught.value.status_code == 422


def test_the_taken_notice_may_name_the_servicer() -> None:
    book = PhraseBook({"taken_notice": ["客服{servicer}已接入"]})
    assert book.render("taken_notice", 0, {"servicer": "小王"}) == "客服小王已接入"


def test_literal_braces_are_allowed() -> None:
    assert placeholders("{{不是占位符}} 还有 {position} 位") == {"position"}
    book = PhraseBook({"pool_notice": ["{{排队}} 还有 {position} 位"]})
    assert book.render("pool_notice", 0, {"position": "2"}) == "{排队} 还有 2 位"


def test_provider_settings_are_validated() -> None:
    index = KnowledgeIndex.build([])
    with pytest.raises(Invalid, match="threshold"):
        KnowledgeBaseProvider(index, threshold=1.5)
    with pytest.raises(Invalid, match="not-sure"):
        KnowledgeBaseProvider(index, not_sure_text=" ")


def test_the_first_in_line_is_told_they_are_next_in_the_admins_words_where_they_wrote_some() -> None:
    """Built in, 「您是下一位」; an admin who worded the pool notice but not its next-in-line case
    keeps their own wording there too (with 0), never a built-in sentence in another voice."""
    built_in = provider().phrase_now("pool_notice_next", {})
    assert built_in in DEFAULT_PHRASES["pool_notice_next"] and "0" not in built_in
    own = PhraseBook({"pool_notice": ["There are {position} customers ahead of you."]})
    assert provider(own).phrase_now("pool_notice_next", {}) == "There are 0 customers ahead of you."
    both = PhraseBook({"pool_notice": ["{position} ahead of you."], "pool_notice_next": ["You are next."]})
    assert provider(both).phrase_now("pool_notice_next", {}) == "You are next."
