"""Small talk: whole messages that ask nothing (greetings, thanks, acknowledgements, goodbyes),
classified by kind from one list, and answered with the admin's reply for the kind — by the
built-in knowledge base and, without calling the model, by the LLM provider."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from kefu.ai import KnowledgeBaseProvider, KnowledgeEntry, KnowledgeIndex
from kefu.ai.chars import SMALL_TALK, SMALL_TALK_KINDS, is_small_talk, small_talk_kind
from kefu.ai.factory import build_index, knowledge_provider
from kefu.ai.llm import OpenAIProvider
from kefu.ai.provider import AnswerContext
from kefu.ai.settings import AISettings, OpenAISettings
from tests.ai.fake_openai import FakeOpenAI


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("你好", "greeting"),
        ("您好！", "greeting"),
        ("在吗？", "greeting"),
        ("Hello", "greeting"),
        ("早上好", "greeting"),
        ("谢谢", "thanks"),
        ("多谢～", "thanks"),
        ("好的谢谢🙏", "thanks"),
        ("好的", "acknowledgement"),
        ("收到", "acknowledgement"),
        ("嗯嗯", "acknowledgement"),
        ("ＯＫ", "acknowledgement"),
        ("👍", "acknowledgement"),  # no words at all: a thumbs-up, an "。"
        ("再见", "goodbye"),
        ("拜拜~", "goodbye"),
        ("晚安", "goodbye"),
    ],
)
def test_each_kind_is_recognised_whatever_the_punctuation_width_or_case(message: str, kind: str) -> None:
    assert small_talk_kind(message) == kind
    assert is_small_talk(message)


@pytest.mark.parametrize(
    "message", ["你好，怎么退货", "收到货了吗", "谢谢你们的退款多久到账", "好评返现", "？", "??"]
)
def test_a_message_that_asks_something_is_not_small_talk(message: str) -> None:
    assert small_talk_kind(message) is None


def test_one_list_every_word_of_one_kind() -> None:
    assert set(SMALL_TALK.values()) == set(SMALL_TALK_KINDS)
    for word, kind in SMALL_TALK.items():
        assert small_talk_kind(word) == kind, word


def test_a_lone_question_mark_is_still_refused_by_the_knowledge_base() -> None:
    """It asks (so the customer gets the not-sure reply, not silence), but nothing an entry answers."""
    assert is_small_talk("？")
    index = KnowledgeIndex.build([KnowledgeEntry(id="r", question="如何退货", answer="七天内可退。")])
    assert index.search("？") == []


ENTRIES = [
    KnowledgeEntry(id="sms", question="收不到验证码", answer="请检查短信拦截。"),
    KnowledgeEntry(id="r", question="如何退货", answer="七天内可退。"),
]


def test_the_knowledge_base_replies_to_small_talk_with_the_default_for_its_kind() -> None:
    ai = knowledge_provider(build_index(ENTRIES, AISettings(retrieval="lexical")), AISettings())
    greeting = ai.answer_now("你好")
    assert (greeting.small_talk, greeting.text) == ("greeting", "您好，请问有什么可以帮您？")
    assert not greeting.not_sure and greeting.entry is None
    assert ai.answer_now("谢谢").text == "不客气，还有其他问题随时告诉我。"
    assert ai.answer_now("再见").text == "再见，祝您生活愉快！"
    acknowledged = ai.answer_now("收到")  # "收到" is no question about "收不到验证码"
    assert (acknowledged.small_talk, acknowledged.text, acknowledged.not_sure) == (
        "acknowledgement",
        "",
        False,
    )
    asked = ai.answer_now("收不到验证码怎么办")
    assert asked.small_talk is None and asked.entry is not None and asked.entry.id == "sms"
    assert ai.answer_now("？").not_sure  # a question mark alone asks: the not-sure reply


def test_the_admins_replies_are_used_and_an_entry_of_that_very_question_still_answers() -> None:
    settings = AISettings(
        retrieval="lexical",
        small_talk={"greeting": "您好，这里是青禾家电售后", "thanks": "", "acknowledgement": "好的"},
    )
    entries = [*ENTRIES, KnowledgeEntry(id="bye", question="再见", answer="欢迎下次光临青禾！")]
    ai = knowledge_provider(build_index(entries, settings), settings)
    assert ai.answer_now("您好").text == "您好，这里是青禾家电售后"
    assert (ai.answer_now("谢谢").text, ai.answer_now("谢谢").small_talk) == ("", "thanks")
    assert ai.answer_now("嗯").text == "好的"
    goodbye = ai.answer_now("再见！")
    assert goodbye.small_talk is None and goodbye.entry is not None and goodbye.entry.id == "bye"


def test_the_replies_are_checked_like_every_text_wecom_sends() -> None:
    with pytest.raises(ValidationError, match="WeCom allows at most 2048"):
        AISettings(small_talk={"greeting": "您" * 700})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AISettings(small_talk={"hello": "您好"})
    assert AISettings(small_talk={"goodbye": ""}).small_talk.goodbye == ""  # empty: no reply
    assert AISettings(small_talk={"goodbye": ""}).small_talk.greeting == "您好，请问有什么可以帮您？"


async def test_the_llm_is_not_called_for_small_talk(fake_openai: FakeOpenAI) -> None:
    """The admin's fixed reply, whichever provider answers: the model would spend a call (and
    seconds) on a "好的", and its prompt keeps it to the knowledge base anyway."""
    settings = OpenAISettings(base_url=fake_openai.url, api_key="sk-test", model="m")
    knowledge = KnowledgeBaseProvider(KnowledgeIndex.build(ENTRIES), small_talk={"greeting": "您好！"})
    async with httpx.AsyncClient() as http:
        llm = OpenAIProvider(settings, knowledge, http)
        greeting = await llm.answer("你好", AnswerContext(account_id=1))
        fake_openai.reply({"not_sure": False, "answer": "七天内可退。", "entry_ids": ["r"]})
        asked = await llm.answer("如何退货", AnswerContext(account_id=1))
    assert (greeting.small_talk, greeting.text) == ("greeting", "您好！")
    assert asked.entry is not None and len(fake_openai.requests) == 1


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("[强]", "acknowledgement"),  # WeChat's faces arrive as their bracketed names
        ("[OK][OK]", "acknowledgement"),
        ("好的[抱拳]", "acknowledgement"),
        ("谢谢[玫瑰]", "thanks"),
        ("[握手]再见", "goodbye"),
        ("你好[微笑]", "greeting"),
    ],
)
def test_wechat_faces_are_emoji_not_words(message: str, kind: str) -> None:
    assert small_talk_kind(message) == kind


@pytest.mark.parametrize("message", ["[疑问]", "[订单]", "退货[流泪]", "[强]怎么退货"])
def test_a_face_that_asks_or_a_bracketed_word_is_not_small_talk(message: str) -> None:
    """[疑问] is the question-mark face; "[订单]" is no face, so it stays a word."""
    assert small_talk_kind(message) is None


def test_a_face_does_not_pull_retrieval_towards_an_entry_that_shares_its_name() -> None:
    """A sad face "[流泪]" is no question about tears: only the question's own words are searched."""
    entries = [
        KnowledgeEntry(id="r", question="如何退货", answer="七天内可退。"),
        KnowledgeEntry(id="tear", question="眼睛流泪怎么办", answer="请就医。"),
    ]
    index = KnowledgeIndex.build(entries)
    assert index.search("怎么退货[流泪][流泪]") == index.search("怎么退货")
