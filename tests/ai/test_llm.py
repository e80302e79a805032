"""The OpenAI-compatible LLM provider against a fake endpoint on loopback (tests/ai/fake_openai.py):
what the prompt carries, masking, length limits, the structured "not sure", retries and the
knowledge-base fallback on timeouts and bad replies, and what is logged."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from structlog.testing import capture_logs

from kefu.ai import DEFAULT_NOT_SURE_TEXT, KnowledgeBaseProvider, KnowledgeEntry, KnowledgeIndex
from kefu.ai.fit import TEXT_LIMIT, utf8_len
from kefu.ai.llm import OpenAIProvider
from kefu.ai.provider import AnswerContext, Turn
from kefu.ai.settings import AISettings, OpenAISettings
from tests.ai.fake_openai import FakeOpenAI

ENTRIES = [
    KnowledgeEntry(
        id="refund",
        question="怎么申请退款",
        answer="在订单页点击申请退款，审核通过后1-3个工作日原路退回。",
        alt_questions=["能退钱吗"],
    ),
    KnowledgeEntry(id="invoice", question="怎么开发票", answer="在订单详情页申请电子发票，1个工作日内开出。"),
    KnowledgeEntry(id="hours", question="客服几点上班", answer="人工客服每天9:00-21:00在线。"),
]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The client the Runtime lends the provider (`rt.http`)."""
    async with httpx.AsyncClient() as client:
        yield client


def provider(
    fake: FakeOpenAI,
    http: httpx.AsyncClient,
    *,
    timeout_s: float = 5,
    entries: list[KnowledgeEntry] = ENTRIES,
) -> OpenAIProvider:
    settings = OpenAISettings(base_url=fake.url, api_key="sk-test", model="qwen-test", timeout_s=timeout_s)
    knowledge = KnowledgeBaseProvider(KnowledgeIndex.build(entries, None))
    return OpenAIProvider(settings, knowledge, http)


CTX = AnswerContext(account_id=1)


async def test_the_prompt_carries_the_top_entries_the_rules_and_the_question(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    fake_openai.reply(
        {"not_sure": False, "answer": "订单页申请退款即可，1-3个工作日退回。", "entry_ids": ["refund"]}
    )
    answer = await provider(fake_openai, http).answer("我想退钱怎么弄", CTX)
    assert (answer.text, answer.not_sure, answer.entry and answer.entry.id) == (
        "订单页申请退款即可，1-3个工作日退回。",
        False,
        "refund",
    )
    [request] = fake_openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "qwen-test"
    system, user = request["body"]["messages"]
    assert (
        system["role"] == "system"
        and "只能依据" in system["content"]
        and '"not_sure": true' in system["content"]
    )
    assert "在订单页点击申请退款" in user["content"] and '"id": "refund"' in user["content"]
    assert user["content"].endswith("客户的问题：我想退钱怎么弄")
    assert user["content"].count('"id":') == 3  # the top entries, not the whole knowledge base


async def test_a_question_with_no_entry_found_is_still_a_call(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    answer = await provider(fake_openai, http, entries=[]).answer("你们老板是谁", CTX)
    assert answer.not_sure and answer.text == DEFAULT_NOT_SURE_TEXT and answer.entry is None
    assert "没有找到相关条目" in fake_openai.prompt()


async def test_personal_data_is_masked_in_everything_sent(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    context = AnswerContext(
        account_id=1, recent_turns=[Turn(role="customer", text="我电话13812345678，身份证11010519491231002X")]
    )
    await provider(fake_openai, http).answer(
        "退款退到 6222 0202 0000 0000 006 这张卡，寄到人民路100号", context
    )
    sent = fake_openai.prompt()
    for secret in ("13812345678", "11010519491231002X", "6222 0202 0000 0000 006", "人民路100号"):
        assert secret not in sent
    for placeholder in ("[电话号码]", "[身份证号]", "[银行卡号]", "[地址]"):
        assert placeholder in sent


async def test_not_sure_is_a_field_not_a_phrase(fake_openai: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake_openai.reply({"not_sure": True})
    assert (await provider(fake_openai, http).answer("怎么开发票", CTX)).not_sure
    # Text that sounds unsure is still an answer: only the field decides.
    fake_openai.reply(
        {"not_sure": False, "answer": "不确定的话可以在订单详情页申请电子发票。", "entry_ids": []}
    )
    answer = await provider(fake_openai, http).answer("怎么开发票", CTX)
    assert not answer.not_sure and answer.entry is not None and answer.entry.id == "invoice"


async def test_a_long_answer_fits_one_message(fake_openai: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake_openai.reply({"not_sure": False, "answer": "退款说明。" * 600, "entry_ids": ["refund"]})
    answer = await provider(fake_openai, http).answer("怎么退款", CTX)
    assert utf8_len(answer.text) <= TEXT_LIMIT and answer.text.endswith("。")
    assert "300" in fake_openai.requests[0]["body"]["messages"][0]["content"]  # asked to keep it short


async def test_a_fenced_json_reply_is_read(fake_openai: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake_openai.reply('```json\n{"not_sure": false, "answer": "9点到21点。", "entry_ids": ["hours"]}\n```')
    assert (await provider(fake_openai, http).answer("几点有人", CTX)).text == "9点到21点。"


async def test_a_timeout_falls_back_to_the_knowledge_base_in_time(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    fake_openai.reply({"not_sure": False, "answer": "太慢了", "entry_ids": []}, delay_s=3)
    started = time.monotonic()
    answer = await provider(fake_openai, http, timeout_s=0.5).answer("怎么开发票", CTX)
    assert time.monotonic() - started < 2
    assert answer.entry is not None and answer.entry.id == "invoice"
    assert answer.text == ENTRIES[1].answer  # the knowledge base's own answer


async def test_a_server_error_is_retried_once_then_the_knowledge_base_answers(
    fake_openai: FakeOpenAI,
    http: httpx.AsyncClient,
) -> None:
    fake_openai.reply(status=503)
    fake_openai.reply({"not_sure": False, "answer": "第二次成功", "entry_ids": ["refund"]})
    assert (await provider(fake_openai, http).answer("怎么退款", CTX)).text == "第二次成功"
    fake_openai.reply(status=500)
    fake_openai.reply(status=502)
    fake_openai.reply(status=500)
    answer = await provider(fake_openai, http).answer("怎么开发票", CTX)
    assert answer.text == ENTRIES[1].answer
    assert len(fake_openai.requests) == 4  # 2 + 2: bounded


@pytest.mark.parametrize("reply", ["当然可以退款", '{"answer": "x"}', '{"not_sure": false, "answer": ""}'])
async def test_a_reply_out_of_format_falls_back(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient, reply: str
) -> None:
    fake_openai.reply(reply)
    answer = await provider(fake_openai, http).answer("怎么开发票", CTX)
    assert answer.text == ENTRIES[1].answer and len(fake_openai.requests) == 1  # no retry


async def test_each_call_is_logged_without_its_content(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    fake_openai.reply({"not_sure": False, "answer": "订单页申请退款。", "entry_ids": ["refund"]})
    with capture_logs() as logs:
        await provider(fake_openai, http).answer("我电话13812345678 怎么退款", CTX)
    [call] = [e for e in logs if e["event"] == "ai.llm_call"]
    assert (call["model"], call["status"], call["prompt_tokens"], call["completion_tokens"]) == (
        "qwen-test",
        200,
        120,
        30,
    )
    assert call["latency_ms"] >= 0
    assert not any("退款" in str(v) or "1381234" in str(v) for e in logs for v in e.values())


async def test_phrasing_through_the_llm_keeps_the_facts(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    llm = provider(fake_openai, http)
    facts = {"position": "3"}
    fake_openai.reply("您前面还有3位客户，请稍候。")
    assert await llm.phrase("pool_notice", facts) == "您前面还有3位客户，请稍候。"
    assert "3" in fake_openai.prompt()  # the default wording with its facts, to be reworded
    fake_openai.reply("马上为您转接，请稍候。")  # lost the position: the fixed wording is used
    fixed = await llm.phrase("pool_notice", facts)
    assert "3" in fixed and fixed != "马上为您转接，请稍候。"
    fake_openai.reply(status=500)
    fake_openai.reply(status=500)
    assert "3" in await llm.phrase("pool_notice", facts)


def test_openai_settings_are_required_for_the_openai_provider() -> None:
    with pytest.raises(ValueError, match="openai"):
        AISettings(provider="openai")
