"""Retrieval quality on the demo knowledge base, and the index's behaviour on small purpose-built ones."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from kefu.ai import (
    DEFAULT_THRESHOLD,
    AnswerContext,
    KnowledgeBaseProvider,
    KnowledgeEntry,
    KnowledgeIndex,
)
from kefu.ai.settings import AISettings
from kefu.ai.text import normalize, tokenize
from tests.ai.paraphrases import PARAPHRASES, UNRELATED


def entry(entry_id: str, question: str, *alts: str) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=entry_id, question=question, answer=f"answer {entry_id}", alt_questions=list(alts)
    )


def test_paraphrased_questions_find_their_entry(demo_index: KnowledgeIndex) -> None:
    provider = KnowledgeBaseProvider(demo_index)
    ids = {e.id for e in demo_index.entries}
    assert {expected for _, expected in PARAPHRASES} <= ids
    misses = []
    for question, expected in PARAPHRASES:
        answer = provider.answer_now(question)
        got = answer.entry.id if answer.entry else "not sure"
        if got != expected:
            misses.append(f"{question} → {got} ({answer.confidence:.2f}), expected {expected}")
    accuracy = 1 - len(misses) / len(PARAPHRASES)
    assert len(PARAPHRASES) >= 30
    # Answered with the right entry (top-1 and above the threshold): 60/65 with the jieba-word
    # retrieval that was tuned on this set; 58/65 with the character retrieval tuned on
    # tests/data (a different business), which does much better there (docs/ai-retrieval.md).
    assert accuracy >= 0.8, "\n".join(misses)


def test_unrelated_questions_are_not_sure(demo_index: KnowledgeIndex) -> None:
    provider = KnowledgeBaseProvider(demo_index, not_sure_text="换个说法试试")
    answered = []
    for question in UNRELATED:
        answer = provider.answer_now(question)
        if not answer.not_sure:
            answered.append(f"{question} → {answer.entry and answer.entry.id} ({answer.confidence:.2f})")
            continue
        assert answer.entry is None
        assert answer.text == "换个说法试试"
        assert answer.confidence < DEFAULT_THRESHOLD
    # 13/14 refused: 你是机器人吗 meets the business-hours answer ("智能客服24小时在线"); the
    # threshold is calibrated for ≥ 80 % refusals on other businesses' out-of-scope messages.
    assert len(answered) <= 1, answered


def test_every_demo_question_matches_itself_with_confidence_one(demo_index: KnowledgeIndex) -> None:
    for kb_entry in demo_index.entries:
        for question in kb_entry.questions():
            best = demo_index.search(question, limit=1)[0]
            assert best.entry.id == kb_entry.id, question
            assert best.confidence == pytest.approx(1.0)


def test_same_words_in_other_clothes_is_an_exact_match() -> None:
    index = KnowledgeIndex.build([entry("r", "如何退货"), entry("w", "iPhone 15 保修多久")])
    # Filler (请问, 怎么, 呀) does not dilute the question: answered with the entry.
    # (on two entries idf says little, so only the ranking is checked here)
    first, second = index.search("请问怎么退货呀")
    assert first.entry.id == "r" and first.confidence > second.confidence
    # Width, case and punctuation do not matter; letters and digits split the same way.
    for variant in ("ＩＰＨＯＮＥ１５保修多久？", "iphone15 保修 多久", "iPhone-15，保修多久!!"):
        best = index.search(variant)[0]
        assert (best.entry.id, best.confidence) == ("w", pytest.approx(1.0)), variant


def test_mixed_chinese_english_and_digits() -> None:
    index = KnowledgeIndex.build(
        [
            entry("ip15", "iPhone15 保修政策"),
            entry("ip14", "iPhone14 保修政策"),
            entry("mac", "MacBook 电池更换"),
        ]
    )
    assert index.search("我的iphone 15还在保修吗")[0].entry.id == "ip15"
    assert index.search("ｍａｃｂｏｏｋ换电池")[0].entry.id == "mac"
    assert tokenize("iPhone15 保修") == ["iphone", "15", "保修"]


def test_normalize_folds_width_case_and_punctuation() -> None:
    assert normalize("  ＡＢＣ，１２３！ 你好\n世界 ") == "abc 123 你好 世界"


def test_an_entry_matches_through_any_of_its_questions() -> None:
    index = KnowledgeIndex.build([entry("inv", "如何开发票", "电子发票在哪下载"), entry("r", "如何退货")])
    best = index.search("电子发票去哪里下载")[0]
    assert best.entry.id == "inv"
    assert best.matched_question == "电子发票在哪下载"


def test_search_returns_one_match_per_entry_best_first(demo_index: KnowledgeIndex) -> None:
    matches = demo_index.search("空调安装收费吗", limit=5)
    assert len({m.entry.id for m in matches}) == len(matches) > 1
    assert [m.confidence for m in matches] == sorted((m.confidence for m in matches), reverse=True)
    assert matches[0].entry.id == "install-fee"
    assert all(0.0 <= m.confidence <= 1.0 for m in matches)


def test_empty_index_and_empty_question() -> None:
    empty = KnowledgeIndex.build([])
    assert len(empty) == 0
    assert empty.search("如何退货") == []
    index = KnowledgeIndex.build([entry("r", "如何退货")])
    assert index.search("") == []
    assert index.search("？？？") == []
    assert all(m.confidence < DEFAULT_THRESHOLD for m in index.search("吗"))  # filler only


def test_a_stop_word_only_question_still_matches_exactly() -> None:
    index = KnowledgeIndex.build([entry("hi", "你好"), entry("r", "如何退货")])
    best = index.search("你好！")[0]
    assert (best.entry.id, best.confidence) == ("hi", 1.0)


async def test_provider_answers_with_the_entry(demo_index: KnowledgeIndex) -> None:
    provider = KnowledgeBaseProvider(demo_index)
    answer = await provider.answer("发票怎么开？", AnswerContext(account_id=1))
    assert not answer.not_sure
    assert answer.entry is not None and answer.entry.id == "invoice"
    assert answer.text == answer.entry.answer
    assert answer.confidence >= DEFAULT_THRESHOLD


async def test_threshold_decides_not_sure(demo_index: KnowledgeIndex) -> None:
    question = "师傅说铜管要另外收费，正常吗"
    confidence = demo_index.search(question)[0].confidence
    assert 0 < confidence < 1
    below = KnowledgeBaseProvider(demo_index, threshold=confidence + 0.01, not_sure_text="不确定")
    above = KnowledgeBaseProvider(demo_index, threshold=confidence)
    assert (await below.answer(question, AnswerContext())).not_sure
    assert (await below.answer(question, AnswerContext())).confidence == confidence
    assert not (await above.answer(question, AnswerContext())).not_sure


@pytest.mark.slow
def test_five_thousand_entries_build_and_answer(demo_index: KnowledgeIndex) -> None:
    rng = random.Random(7)
    products = ["冰箱", "空调", "洗衣机", "热水器", "油烟机", "净水器", "电视", "微波炉", "洗碗机", "吸尘器"]
    topics = [
        "怎么退货",
        "保修多久",
        "如何安装",
        "显示故障代码",
        "不制冷",
        "噪音大",
        "漏水",
        "配件购买",
        "移机收费",
    ]
    entries = [
        entry(
            f"e{i}",
            f"{rng.choice('ABCDEFGH')}{rng.randint(10, 99)}型号{rng.choice(products)}{rng.choice(topics)}",
            f"请问{rng.choice(products)}的{rng.choice(topics)}",
            f"{rng.choice(products)}{rng.choice(topics)}怎么办",
        )
        for i in range(5000)
    ]
    # Build time (~1.2 s for these 15,000 questions on an idle core) and query time are the
    # benchmarks' to measure (benchmarks/README.md, "AI retrieval"), not a timed test's.
    index = KnowledgeIndex.build(entries)
    for question in ["请问怎么退货呀", "C42型号冰箱保修多久", "空调不制冷", "今天天气怎么样"]:
        assert all(0.0 <= match.confidence <= 1.0 for match in index.search(question))
    probe = entries[1234]
    best = index.search(probe.question)[0]
    assert (best.entry.id, best.confidence) == (probe.id, 1.0)


def test_admin_synonyms_make_a_variant_read_as_the_term() -> None:
    entries = [
        KnowledgeEntry(id="sso", question="怎么配置单点登录", answer="在管理后台填写IdP信息。"),
        KnowledgeEntry(id="refund", question="怎么申请退款", answer="订单页点申请退款。"),
        KnowledgeEntry(id="seats", question="怎么增加席位", answer="在“账单”页增加席位。"),
    ]
    question = "sso咋弄"
    plain = KnowledgeIndex.build(entries).search(question)[0]
    taught = KnowledgeIndex.build(entries, None, {"单点登录": ["SSO", "统一登录"]}).search(question)[0]
    assert taught.entry.id == "sso" and taught.confidence >= DEFAULT_THRESHOLD
    assert plain.confidence < taught.confidence
    with pytest.raises(ValueError, match="empty term"):
        AISettings(synonyms={"发票": [" "]})


def test_small_talk_finds_no_entry_unless_it_is_a_question_of_one() -> None:
    index = KnowledgeIndex.build([entry("sms", "收不到验证码"), entry("hi", "你好"), entry("r", "如何退货")])
    for message in ("收到", "好的谢谢🙏", "在吗？", "OK!", "👍"):
        assert index.search(message) == [], message
    assert index.search("你好！")[0].entry.id == "hi"  # an entry's own question still matches
    assert index.search("收不到验证码怎么办")[0].entry.id == "sms"


class MeaningEmbedder:
    """An `Embedder` for tests: each text means a concept, a one-hot vector; unknown texts mean nothing."""

    name = "meanings"

    def __init__(self, meanings: dict[str, int]) -> None:
        self._meanings = meanings

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), 8), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, self._meanings.get(text, 7)] = 1.0
        return vectors

    embed_queries = embed_passages = _embed


def test_hybrid_embedding_channel_is_the_best_of_each_entrys_questions() -> None:
    # No character is shared, so only the embedding channels score: the best question's cosine
    # (weighted) plus the answer's, here 0.
    entries = [
        KnowledgeEntry(id="a", question="甲乙", answer="子", alt_questions=["丙丁"]),
        KnowledgeEntry(id="b", question="戊己", answer="丑"),
        KnowledgeEntry(id="c", question="庚辛", answer="寅", alt_questions=["壬癸", "天地"]),
    ]
    meanings = {"甲乙": 0, "丙丁": 1, "戊己": 2, "庚辛": 3, "壬癸": 4, "天地": 5, "寅": 6}
    index = KnowledgeIndex.build(entries, MeaningEmbedder({**meanings, "玄黄": 5, "宇宙": 1}))
    weight = index.calibration.weights["emb_q"]
    assert index.scores("玄黄").tolist() == [0.0, 0.0, weight]  # c's last alternative question
    assert index.scores("宇宙").tolist() == [weight, 0.0, 0.0]  # a's only alternative question
    assert index.search("玄黄")[0].entry.id == "c"
