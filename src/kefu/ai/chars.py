"""Character and pinyin n-grams: the tokens retrieval indexes.

Customers write colloquially, elliptically and with typos, so whole words (jieba) miss where
characters still meet: measured on the tuning set, character unigrams + bigrams beat jieba
words, and pinyin n-grams catch homophone typos (发漂 → fa piao = 发票, 续废 = 续费).
A run of ASCII letters or digits counts as one unit ("vip", "sso", "2fa" stay whole).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Literal, get_args

# Only single characters are converted, which pypinyin does from its character table alone: its
# phrase table (44 MB in memory) and its copies of both are never read. These must be set
# before pypinyin is first imported; every character's reading is the same either way
# (tests/ai/test_chars.py).
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")

from pypinyin import lazy_pinyin

from kefu.ai.text import normalize, without_faces


def units(run: str) -> list[str]:
    """The units of one space-free run: each non-ASCII character, each ASCII letter/digit word."""
    out: list[str] = []
    word = ""
    for ch in run:
        if ch.isascii() and ch.isalnum():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


# Characters that carry no topic (particles, pronouns, politeness, question words): no unigram
# of theirs, nor a bigram of two of them, is a token. Measured on the tuning rows: +9 points of
# lexical top-1 at the same abstain rate, since "请问怎么…呀" no longer dilutes the query.
FILLER = frozenset("的了吗呢吧啊呀哦嘛么哈啦呗请问您你我们他她它这那个一下些是在有怎么什啥")


def _with_bigrams(seq: list[str]) -> list[str]:
    grams = [u for u in seq if u not in FILLER]
    return grams + [a + b for a, b in pairwise(seq) if not (a in FILLER and b in FILLER)]


def char_ngrams(text: str) -> list[str]:
    """Character unigrams and bigrams of each run of the normalised text (bigrams stop at spaces)."""
    tokens: list[str] = []
    for run in normalize(text).split():
        tokens += _with_bigrams(units(run))
    return tokens


# Whole messages that ask nothing, by kind: no entry answers them, however well "收到" matches
# "收不到验证码" character by character; the reception replies with the admin's words for the
# kind instead (`ai.small_talk`), never with the not-sure text.
SmallTalkKind = Literal["greeting", "thanks", "acknowledgement", "goodbye"]
SMALL_TALK_KINDS: tuple[SmallTalkKind, ...] = get_args(SmallTalkKind)
_SMALL_TALK_WORDS: dict[SmallTalkKind, str] = {
    "greeting": "你好 您好 你好呀 在吗 在不在 在么 hi hello 哈喽 早 早上好",
    "thanks": "谢谢 多谢 感谢 谢啦 谢谢你 谢谢啦 好的谢谢",
    "acknowledgement": """收到 收到了 好 好的 好滴 好吧 行 行吧 可以 嗯 嗯嗯 哦 哦哦 噢 ok okay 知道了
        明白 明白了 了解 了解了 懂了 没事 没事了 没问题 没有了""",
    "goodbye": "拜拜 再见 晚安",
}
SMALL_TALK: Mapping[str, SmallTalkKind] = {
    word: kind for kind, words in _SMALL_TALK_WORDS.items() for word in words.split()
}


def small_talk_kind(text: str) -> SmallTalkKind | None:
    """The kind of small talk the whole message is (punctuation, emoji, WeChat's faces, width and
    case aside), or None. A message with no word at all (👍, "[强]", "。") acknowledges; a lone
    "？" (or "[疑问]") asks."""
    key = "".join(normalize(text).split())
    if not key:
        return None if "?" in unicodedata.normalize("NFKC", without_faces(text)) else "acknowledgement"
    return SMALL_TALK.get(key)


def is_small_talk(text: str) -> bool:
    """Whether the message asks nothing an entry could answer: small talk, or no word at all."""
    return small_talk_kind(text) is not None or not "".join(normalize(text).split())


@lru_cache(maxsize=65536)
def _pinyin(unit: str) -> str:
    if unit.isascii():
        return unit
    return lazy_pinyin(unit)[0]


def pinyin_ngrams(text: str) -> list[str]:
    """Toneless pinyin syllable unigrams and bigrams ("py:" keeps them apart from ASCII words)."""
    tokens: list[str] = []
    for run in normalize(text).split():
        tokens += _with_bigrams([_pinyin(u) for u in units(run)])
    return ["py:" + t for t in tokens]


class Rewriter:
    """Each variant of a term (the admin's `ai.synonyms`: canonical → variants) replaced by the
    canonical term, longest variant first, matched on the normalised text."""

    def __init__(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        pairs = {normalize(v): normalize(k) for k, vs in synonyms.items() for v in vs if normalize(v)}
        self._pairs = sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)

    def __call__(self, text: str) -> str:
        if not self._pairs:
            return text
        text = normalize(text)
        for variant, canonical in self._pairs:
            text = text.replace(variant, canonical)
        return text
