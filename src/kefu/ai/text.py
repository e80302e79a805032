"""Chinese-aware text handling: normalisation (used by retrieval), and jieba segmentation, stop
words and synonyms, which retrieval no longer uses — characters and pinyin did better on
customer messages (docs/ai-retrieval.md); benchmarks/ai_methods.py still measures them.

Segmentation uses a private `jieba.Tokenizer` (its dictionary ships inside the
package; nothing is downloaded), initialised once per process and quietly.
A private instance keeps anyone else's `jieba.add_word` from changing our tokens.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _segmenter() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                # Imported here: serving never segments (retrieval uses characters), so a serving
                # process does not pay jieba's import (7 MB).
                import jieba

                # jieba logs "Building prefix dict…" at DEBUG on its own console handler.
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


# Words that carry no topic in a customer's question: particles (with the
# sloppy variants people type), pronouns, greetings, politeness and question
# words. Removing them is what lets "请问怎么退货呀" match "如何退货".
STOP_WORDS: frozenset[str] = frozenset(
    """
    的 地 得 了 着 过 吗 嘛 么 麽 吧 呢 啊 阿 呀 哇 哦 噢 喔 哈 啦 咯 嗯 呐 哪 哩 呗 滴 捏 撒
    我 你 您 他 她 它 我们 你们 他们 咱 咱们 俺 自己 这 那 这个 那个 这些 那些
    这边 那边 这里 那里 的话
    请问 请 问 问下 问一下 想问 想 想要 要 我要 我想 一下 下 麻烦 帮 帮忙 帮我
    弄 怎么弄 咋弄 谢谢 感谢 你好 您好 在吗 在不在 客服 亲 哈喽 hello hi
    时候 怎么 怎么样 怎样 怎么办 咋 咋办 咋样 如何 什么 啥 为什么 为啥
    哪里 哪儿 哪个 几 是不是 是否 多少
    能 能不能 可以 可不可以 可否 能否 会 会不会 行 行不行 有没有 没有
    不 没 还 也 都 就 才 又 再 很 太 挺 非常 比较
    是 有 在 和 与 及 跟 把 被 给 对 从 到 让 用 个 些 一个 点 一点
    现在 已经 还是 或者 然后 但是 因为 所以 如果
    """.split()
)

# A few spellings customers use for the same thing, mapped to one token so
# that retrieval does not depend on which one the knowledge base happens to use.
SYNONYMS: dict[str, str] = {
    "质保": "保修",
    "保固": "保修",
    "包修": "保修",
    "质保期": "保修期",
    "退钱": "退款",
    "快递": "物流",
    "快件": "物流",
    "坏": "故障",
    "坏了": "故障",
    "坏掉": "故障",
    "毛病": "故障",
    "退": "退货",
    "退掉": "退货",
    "换": "换货",
    "调换": "换货",
    "开票": "发票",
    "多长时间": "多久",
    "多长": "多久",
    "几天": "多久",
    "电话号码": "电话",
    "手机号": "电话",
    "无线网": "wifi",
    "修": "维修",
    "修理": "维修",
    "装": "安装",
    "收钱": "收费",
    "要钱": "收费",
    "多少钱": "收费",
    "价钱": "收费",
    "费用": "收费",
    "什么时候": "多久",
    "啥时候": "多久",
    "何时": "多久",
    "折价": "抵扣",
    "抵钱": "抵扣",
    "专票": "专用发票",
}

_SPACE = " "
# jieba's dictionary lists many rare words with the floor frequency 3 (写错,
# 没来, 搬上去); at or below it a word is also indexed by its characters, so
# that 写错 still meets 填错 through 错.
_RARE_FREQ = 3
# ASCII letters and digits are split from each other and from Chinese ourselves,
# so that "iPhone15", "iphone 15" and "iPhone１５" all give "iphone", "15".
_RUNS = re.compile(r"[a-z]+|\d+|[^\sa-z\d]+")


# WeChat's own faces reach a text message as their bracketed names ("好的[抱拳]", "[强]"), as on
# official accounts. Like other emoji they carry no topic: "[流泪]" must not match an entry about
# tears, and a message of only faces acknowledges. The names of WeChat's face panel; a bracketed
# word that is none of them ("[订单]") stays text.
WECHAT_FACES = frozenset(
    """
    微笑 撇嘴 色 发呆 得意 流泪 害羞 闭嘴 睡 大哭 尴尬 发怒 调皮 呲牙 惊讶 难过 囧 抓狂 吐 偷笑
    愉快 白眼 傲慢 困 惊恐 憨笑 悠闲 咒骂 嘘 晕 衰 骷髅 敲打 再见 擦汗 抠鼻 鼓掌 坏笑 右哼哼
    鄙视 委屈 快哭了 阴险 亲亲 可怜 笑脸 生病 脸红 破涕为笑 恐惧 失望 无语 嘿哈 捂脸 奸笑 机智
    皱眉 耶 吃瓜 加油 汗 天啊 Emm 社会社会 旺柴 好的 打脸 哇 翻白眼 666 让我看看 叹气 苦涩 裂开
    嘴唇 爱心 心碎 拥抱 强 弱 握手 胜利 抱拳 勾引 拳头 OK 合十 啤酒 咖啡 蛋糕 玫瑰 凋谢 菜刀 炸弹
    便便 月亮 太阳 庆祝 礼物 红包 發 福 烟花 爆竹 猪头 跳跳 发抖 转圈
    """.split()
)
QUESTION_FACE = "疑问"  # the question-mark face: it asks, as a lone "？" does
_FACE = re.compile(r"\[([^\[\]]{1,4})\]")


def without_faces(text: str) -> str:
    """`text` with WeChat's faces as spaces, and its question-mark face as "?"."""
    if "[" not in text:
        return text

    def face(match: re.Match[str]) -> str:
        name = match.group(1)
        return "?" if name == QUESTION_FACE else " " if name in WECHAT_FACES else match.group(0)

    return _FACE.sub(face, text)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, WeChat's faces, punctuation/symbols/whitespace
    → one space."""
    text = unicodedata.normalize("NFKC", without_faces(text)).lower()
    chars = [_SPACE if unicodedata.category(c)[0] in "PSZC" else c for c in text]
    return " ".join("".join(chars).split())


def exact_key(text: str) -> str:
    """The key under which two questions count as the same question."""
    return normalize(text).replace(_SPACE, "")


def _word_tokens(word: str, segmenter: jieba.Tokenizer) -> list[str]:
    """The tokens of one word: itself, the dictionary words inside it, its characters if rare."""
    parts = [word]
    if not word.isascii():
        # What jieba's search mode adds: the known 2- and 3-character words inside a long word.
        for n in (2, 3):
            if len(word) > n:
                parts += [
                    word[i : i + n] for i in range(len(word) - n + 1) if segmenter.FREQ.get(word[i : i + n])
                ]
        if len(word) > 1 and segmenter.FREQ.get(word, 0) <= _RARE_FREQ:
            parts += list(word)
    tokens: dict[str, None] = {}
    for part in parts:
        token = SYNONYMS.get(part, part)
        if token not in STOP_WORDS:
            tokens.setdefault(token, None)
    return list(tokens)


def tokenize_words(text: str) -> list[list[str]]:
    """The words of `text`, each as its list of tokens (see `_word_tokens`); words of no content dropped.

    jieba's HMM is off: it glues characters it does not know into pseudo-words
    (想换, 我想查) that match nothing; without it they stay single characters.
    """
    segmenter = _segmenter()
    groups: list[list[str]] = []
    for run in _RUNS.findall(normalize(text)):
        words = [run] if run.isascii() else segmenter.lcut(run, HMM=False)
        for word in words:
            word = word.strip()
            if word and word not in STOP_WORDS and (tokens := _word_tokens(word, segmenter)):
                groups.append(tokens)
    return groups


def tokenize(text: str) -> list[str]:
    """Distinct content tokens of `text`, in order of first appearance.

    Chinese runs are cut with jieba and, as in its search mode, long words also
    give the short words inside them (保修期 → 保修, 保修期), so a query that
    says 保修 still meets a question that says 保修期.
    """
    return list(dict.fromkeys(token for group in tokenize_words(text) for token in group))
