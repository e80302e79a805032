"""Knowledge entries and the index that finds the entry a customer's question is about.

Retrieval scores every entry as a weighted sum of channels, each a score that does not depend
on the query's length (BM25 divided by the query's Σ idf, or a cosine):

- lexical (always there): character unigrams + bigrams of the entry's questions, the same of
  its answer, and pinyin syllable n-grams of questions + answer (kefu.ai.chars);
- hybrid (when an `Embedder` is given, e.g. the `kefu[embeddings]` extra): character n-grams
  of questions + answer, and the embedding cosine of the query with the entry's best question
  and with its answer.

The weights were chosen on the tuning rows of tests/data (see docs/ai-retrieval.md, where the
methods that were tried and dropped are listed too). Confidence is a logistic function of the
best entry's score, `1 / (1 + exp(-slope · (score - center)))`: the slope is fitted on the
labelled tuning queries (is the first-ranked entry the right one?), and `center` is the score
at which 85 % of their out-of-scope queries are refused, so confidence 0.5 is that abstain
point for either channel set (`DEFAULT_THRESHOLD`). `benchmarks/ai_calibrate.py` refits them.

A query whose normalised text equals a question's (any punctuation, width or case) has
confidence 1.

When the best entry is about another topic, it has confidence 0: the message names one of the
knowledge base's tags (its topics) that the entry neither carries nor mentions, none of the
entry's own tags, and the entry's closest question names a topic the message does not
(冰箱不制冷怎么办 against 空调不制冷怎么办); answering about the wrong product is worse than "not
sure", which offers a human. The best entry on the named topic (tagged with it, or its closest
question names it: 产品坏了怎么报修's 冰箱不制冷了) comes first instead, at the confidence of the
lower of its scores with and without the topic's name, so that the topic's other problems
(冰箱噪音很大), matched by the name alone, stay "not sure"; every other match has confidence 0.
A knowledge base without tags names no topics: the score alone decides (docs/ai-retrieval.md,
"An entry about another topic").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kefu.ai.bm25 import Bm25
from kefu.ai.chars import Rewriter, char_ngrams, is_small_talk, pinyin_ngrams
from kefu.ai.text import exact_key, normalize


class KnowledgeEntry(BaseModel):
    """One question/answer of a knowledge base; built from a CSV row or a database row."""

    model_config = ConfigDict(frozen=True)

    id: str
    question: str
    answer: str
    alt_questions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True  # a disabled entry is kept (and exported) but never answers

    def questions(self) -> list[str]:
        return [self.question, *self.alt_questions]


class Match(BaseModel):
    """An entry found for a query: how sure we are, and which of its questions matched."""

    model_config = ConfigDict(frozen=True)

    entry: KnowledgeEntry
    confidence: float
    matched_question: str


class Embedder(Protocol):
    """Text → L2-normalised vectors (rows); queries and passages may be embedded differently."""

    name: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    slope: float
    center: float

    def confidence(self, score: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.slope * (score - self.center)))


# Fitted by benchmarks/ai_calibrate.py on the SaaS tuning rows; the weights from its grid.
LEXICAL = Calibration(weights={"q": 0.3, "a": 0.3, "pinyin": 0.3}, slope=10.7, center=0.205493)
HYBRID = Calibration(weights={"qa": 0.5, "emb_q": 2.0, "emb_a": 1.0}, slope=15.9, center=2.798936)


class KnowledgeIndex:
    """An immutable search index over knowledge entries. Build once, query from any thread."""

    def __init__(
        self,
        entries: list[KnowledgeEntry],
        embedder: Embedder | None = None,
        synonyms: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        # The admin's terms (canonical → variants) become one spelling on both sides.
        self._rewrite = Rewriter(synonyms or {})
        self._entries = entries
        self._embedder = embedder
        self.calibration = HYBRID if embedder is not None else LEXICAL
        self._exact: dict[str, tuple[int, str]] = {}
        for owner, entry in enumerate(entries):
            for question in entry.questions():
                self._exact.setdefault(exact_key(question), (owner, question))
        questions = [" ".join(e.questions()) for e in entries]
        # Topics are the tags (one character would match too much as a substring).
        self._tags = [frozenset(t for t in map(self._normal, e.tags) if len(t) > 1) for e in entries]
        self._topics = frozenset().union(*self._tags)
        self._asked = [self._normal(q) for q in questions]
        self._texts = [self._normal(f"{q} {e.answer}") for q, e in zip(questions, entries, strict=True)]
        self._questions = Bm25([self._char(q) for q in questions])
        self._channels: dict[str, tuple[Bm25, str]] = {}
        if embedder is None:
            self._channels["q"] = (self._questions, "char")
            self._channels["a"] = (Bm25([self._char(e.answer) for e in entries]), "char")
            both = [f"{q} {e.answer}" for q, e in zip(questions, entries, strict=True)]
            self._channels["pinyin"] = (Bm25([self._pinyin(t) for t in both]), "pinyin")
        else:
            both = [f"{q} {e.answer}" for q, e in zip(questions, entries, strict=True)]
            self._channels["qa"] = (Bm25([self._char(t) for t in both]), "char")
            self._embed_entries(embedder)

    def _embed_entries(self, embedder: Embedder) -> None:
        texts = [q for e in self._entries for q in e.questions()]
        # Each entry's questions are consecutive rows: where each entry's rows start.
        self._question_starts = np.cumsum([0, *(len(e.questions()) for e in self._entries[:-1])])
        self._question_vectors = embedder.embed_passages(texts) if texts else np.zeros((0, 1))
        answers = [e.answer for e in self._entries]
        self._answer_vectors = embedder.embed_passages(answers) if answers else np.zeros((0, 1))

    def _char(self, text: str) -> list[str]:
        return char_ngrams(self._rewrite(text))

    def _normal(self, text: str) -> str:
        return normalize(self._rewrite(text))

    def _pinyin(self, text: str) -> list[str]:
        return pinyin_ngrams(self._rewrite(text))

    @classmethod
    def build(
        cls,
        entries: Iterable[KnowledgeEntry],
        embedder: Embedder | None = None,
        synonyms: Mapping[str, Sequence[str]] | None = None,
    ) -> KnowledgeIndex:
        return cls([e for e in entries if e.enabled], embedder, synonyms)

    @property
    def entries(self) -> Sequence[KnowledgeEntry]:
        return tuple(self._entries)

    @property
    def retrieval(self) -> str:
        """Which channel set answers: "lexical", or "hybrid:<embedder>"."""
        return "lexical" if self._embedder is None else f"hybrid:{self._embedder.name}"

    def __len__(self) -> int:
        return len(self._entries)

    def has_question(self, question: str) -> bool:
        """Whether `question` is one of the entries' questions (normalised: see `exact_key`)."""
        return exact_key(question) in self._exact

    def scores(self, question: str) -> np.ndarray:
        """Each entry's combined score for `question` (the calibration's weights)."""
        total = np.zeros(len(self._entries), dtype=np.float64)
        tokens = {"char": self._char(question)}
        if not tokens["char"] or not self._entries:
            return total
        weights = self.calibration.weights
        for name, (bm25, kind) in self._channels.items():
            if kind not in tokens:
                tokens[kind] = self._pinyin(question)
            query = tokens[kind]
            total += weights[name] * bm25.scores(query) / max(bm25.query_weight(query), 1e-9)
        if self._embedder is not None:
            vector = self._embedder.embed_queries([question])[0]
            by_question = _cosines(self._question_vectors, vector)
            best_question = np.maximum.reduceat(by_question, self._question_starts)
            by_answer = _cosines(self._answer_vectors, vector)
            total += weights["emb_q"] * best_question + weights["emb_a"] * by_answer
        return total

    def search(self, question: str, *, limit: int = 3) -> list[Match]:
        """The best `limit` entries for `question`, best first, one match per entry."""
        exact = self._exact.get(exact_key(question))
        if not self._entries or (exact is None and (is_small_talk(question) or not self._char(question))):
            return []
        scores = self.scores(question)
        order = np.argsort(-scores, kind="stable")[:limit].tolist()
        if exact is not None:
            order = [exact[0], *(i for i in order if i != exact[0])][:limit]
        elif order and self._about_other_topic(order[0], question, self._closest(order[0], question)):
            return self._beside_another_topic(question, scores, limit)
        matches = []
        for i in order:
            if exact is not None and i == exact[0]:
                matches.append(Match(entry=self._entries[i], confidence=1.0, matched_question=exact[1]))
            else:  # unrounded: 0.5 is an exact edge
                matches.append(self._match(i, question, self.calibration.confidence(float(scores[i]))))
        return matches

    def _beside_another_topic(self, question: str, scores: np.ndarray, limit: int) -> list[Match]:
        """The matches when the best entry is about another topic than `question`: the best entry
        on a topic it names first, then the others in their order, at confidence 0.

        That entry scores as the lower of its score for the message and for the message without
        the topic's name: the words that outscored the name (不制冷怎么办) are what it asks, so
        the topic's other entries, matched by its name (冰箱噪音很大), are no answer. An entry on
        no topic it names is not answered with either: it matches only beside the topic
        (洗衣机移机怎么收费 → 安装收费吗), a guess."""
        text = self._normal(question)
        named = [t for t in self._topics if t in text]
        for topic in named:
            text = text.replace(topic, " ")
        beside = np.minimum(scores, self.scores(text))
        order = np.argsort(-scores, kind="stable").tolist()
        on_topic = (
            i for i in np.argsort(-beside, kind="stable").tolist() if self._on_named_topic(i, question, named)
        )
        best = next(on_topic, None)
        first = []
        if best is not None:
            first.append(self._match(best, question, self.calibration.confidence(float(beside[best]))))
        others = [i for i in order if i != best][: limit - len(first)]
        return first + [self._match(i, question, 0.0) for i in others]

    def _match(self, owner: int, question: str, confidence: float) -> Match:
        return Match(
            entry=self._entries[owner], confidence=confidence, matched_question=self._closest(owner, question)
        )

    def _on_named_topic(self, owner: int, question: str, named: Sequence[str]) -> bool:
        """Whether the entry is about a topic of `named`: it carries one as a tag, or its closest
        question names one (产品坏了怎么报修's 冰箱不制冷了) and it is about no other."""
        if any(t in self._tags[owner] for t in named):
            return True
        if not any(t in self._asked[owner] for t in named):  # no question of it names one
            return False
        closest = self._closest(owner, question)
        named_there = any(t in self._normal(closest) for t in named)
        return named_there and not self._about_other_topic(owner, question, closest)

    def _about_other_topic(self, owner: int, question: str, closest: str) -> bool:
        """Whether the entry is about another topic (a tag of the knowledge base) than `question`:
        the question names one the entry neither carries nor mentions, the entry's closest
        question names one the question does not (冰箱不制冷 against 空调不制冷), and the
        question names none of the entry's own tags."""
        text = self._normal(question)
        if any(t in text for t in self._tags[owner]):
            return False
        named = [t for t in self._topics if t in text]
        if all(t in self._texts[owner] for t in named):
            return False
        closest = self._normal(closest)
        return any(t in closest and t not in text for t in self._topics)

    def _closest(self, owner: int, question: str) -> str:
        """The entry's question sharing the most idf-weighted character n-grams with `question`."""
        query = set(self._char(question))
        idf = self._questions.idf

        def overlap(text: str) -> float:
            return sum(idf.get(t, 0.0) for t in query.intersection(self._char(text)))

        return max(self._entries[owner].questions(), key=overlap)


def _cosines(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`rows @ vector` in one thread. numpy's `@` goes to BLAS, whose worker threads, woken for
    every product, took 8-10 ms a query (p99 20-70 ms) on 1,000 entries on the loaded 2-core
    machine; einsum's own loop takes ~0.2 ms there."""
    return np.einsum("ij,j->i", rows, vector)
