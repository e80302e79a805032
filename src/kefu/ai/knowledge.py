"""Knowledge entries and the index that finds the entry a customer's question is about.

Every question of an entry (its main question and each alternative question)
is one BM25 document; an entry matches as well as its best-matching question.

Confidence (0…1, comparable across queries; the threshold depends on it).
A query is a list of words (jieba's precise cut, stop words dropped), each word
a small set of tokens (itself, the dictionary words inside it, its characters
when jieba hardly knows it — see kefu.ai.text). For one indexed question with
distinct tokens D:

    recall    = bm25(Q, D) / bm25(D, D)
        the raw BM25 score normalised by the question's score against itself:
        how much of the question the query says;
    precision = Σ_words max idf(t ∈ word ∩ D)  /  Σ_words max idf(t ∈ word)
        how much of the query the question explains, idf-weighted, one weight
        per word (so a long word's sub-words do not count three times); a token
        the knowledge base has never seen weighs like the rarest known token,
        so "今天天气怎么样" is explained by nothing and scores 0;
    confidence = √(recall · precision)

On the demo knowledge base, unrelated questions stay at or below ~0.25 and
paraphrases of an entry mostly land above 0.4 (see tests/ai), hence the
default threshold of 0.3 in KnowledgeBaseProvider.

A query whose normalised text equals a question's (same words, any
punctuation, width or case) has confidence 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import bm25s
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kefu.ai.text import exact_key, tokenize, tokenize_words

# How many BM25 candidates are re-ranked by confidence.
_CANDIDATES = 20


class KnowledgeEntry(BaseModel):
    """One question/answer of a knowledge base; built from a CSV row or a database row."""

    model_config = ConfigDict(frozen=True)

    id: str
    question: str
    answer: str
    alt_questions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def questions(self) -> list[str]:
        return [self.question, *self.alt_questions]


class Match(BaseModel):
    """An entry found for a query: how sure we are, and which of its questions matched."""

    model_config = ConfigDict(frozen=True)

    entry: KnowledgeEntry
    confidence: float
    matched_question: str


def _idf(doc_freq: int, n_docs: int) -> float:
    # The Lucene BM25 idf, the same as bm25s's default, so both halves agree.
    return math.log(1 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class KnowledgeIndex:
    """An immutable search index over knowledge entries. Build once, query from any thread."""

    def __init__(
        self,
        entries: list[KnowledgeEntry],
        owners: list[int],
        question_texts: list[str],
        question_tokens: list[frozenset[str]],
    ) -> None:
        # Use `build`; this constructor only wires precomputed parts together.
        self._entries = entries
        self._owners = owners  # question index -> entry index
        self._question_texts = question_texts
        self._question_tokens = question_tokens
        self._exact: dict[str, int] = {}
        for i, text in enumerate(question_texts):
            self._exact.setdefault(exact_key(text), i)
        n_docs = len(question_tokens)
        doc_freq = Counter(t for tokens in question_tokens for t in tokens)
        self._idf = {t: _idf(df, n_docs) for t, df in doc_freq.items()}
        self._unknown_idf = _idf(0, n_docs)
        self._bm25: bm25s.BM25 | None = None
        self._self_scores: np.ndarray = np.zeros(n_docs, dtype=np.float64)
        if any(question_tokens):
            self._bm25 = bm25s.BM25()
            self._bm25.index([list(tokens) for tokens in question_tokens], show_progress=False)
            # A question's score against itself is the sum of its own entries in
            # the sparse (token × question) score matrix: one pass, no queries.
            scores = self._bm25.scores
            self._self_scores = np.bincount(
                scores["indices"], weights=scores["data"].astype(np.float64), minlength=n_docs
            )

    @classmethod
    def build(cls, entries: Iterable[KnowledgeEntry]) -> KnowledgeIndex:
        entry_list = list(entries)
        owners: list[int] = []
        texts: list[str] = []
        tokens: list[frozenset[str]] = []
        for owner, entry in enumerate(entry_list):
            for question in entry.questions():
                owners.append(owner)
                texts.append(question)
                tokens.append(frozenset(tokenize(question)))
        return cls(entry_list, owners, texts, tokens)

    @property
    def entries(self) -> Sequence[KnowledgeEntry]:
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, question: str, *, limit: int = 3) -> list[Match]:
        """The best `limit` entries for `question`, best first, one match per entry."""
        best: dict[int, tuple[float, float, int]] = {}  # entry -> (confidence, raw score, question)

        def offer(doc: int, confidence: float, raw: float) -> None:
            owner = self._owners[doc]
            if owner not in best or (confidence, raw) > best[owner][:2]:
                best[owner] = (confidence, raw, doc)

        exact = self._exact.get(exact_key(question))
        if exact is not None:
            offer(exact, 1.0, math.inf)
        words = tokenize_words(question)
        query = list(dict.fromkeys(t for word in words for t in word))
        known = [t for t in query if t in self._idf]
        if self._bm25 is not None and known:
            scores = self._bm25.get_scores(known)
            count = min(_CANDIDATES, len(scores))
            candidates = np.argpartition(-scores, count - 1)[:count]
            query_weight = sum(max(self._idf.get(t, self._unknown_idf) for t in word) for word in words)
            for doc in candidates.tolist():
                raw = float(scores[doc])
                if raw <= 0:
                    continue
                tokens = self._question_tokens[doc]
                explained = sum(
                    max((self._idf[t] for t in word if t in tokens), default=0.0) for word in words
                )
                precision = min(1.0, explained / query_weight)
                recall = min(1.0, raw / self._self_scores[doc])
                offer(doc, math.sqrt(recall * precision), raw)
        ranked = sorted(best.items(), key=lambda item: item[1][:2], reverse=True)[:limit]
        return [
            Match(
                entry=self._entries[owner],
                confidence=round(confidence, 4),
                matched_question=self._question_texts[doc],
            )
            for owner, (confidence, _raw, doc) in ranked
        ]
