"""Measuring the answerer on labelled customer messages (`kefu kb eval`), next to a plain baseline.

A query file is a UTF-8 CSV `query,expected_id`; an empty expected_id means out of scope, where
the right outcome is "not sure". The figures:

- `top1_accuracy`: answerable queries answered (not "not sure") with the expected entry;
- `rank1_accuracy`: answerable queries whose expected entry is ranked first, threshold ignored;
- `abstain_rate`: out-of-scope queries answered with no entry ("not sure", or a small-talk reply);
- `false_abstain_rate`: answerable queries answered with no entry;
- `wrong_answer_rate`: answerable queries answered with another entry than the expected one
  (with top-1 and false abstain it makes 1: for a desk the worst of the three);
- `p50_ms`, `p99_ms`: time to answer one query, retrieval and decision.

The baseline is a plain BM25 over the character unigrams and bigrams of each entry's question,
alternative questions and answer, with no threshold: the floor any retrieval has to beat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import bm25s
import numpy as np

from kefu.ai.chars import units
from kefu.ai.factory import build_index, knowledge_provider
from kefu.ai.kb_csv import KbCsvError, csv_reader, decode_csv_bytes
from kefu.ai.knowledge import KnowledgeEntry
from kefu.ai.settings import AISettings
from kefu.ai.text import normalize


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    expected_id: str | None  # None: out of scope


@dataclass(frozen=True)
class Outcome:
    """What one method did with one query: its first-ranked entry and whether it answered."""

    ranked_first: str | None
    answered: str | None  # the entry answered with, None for "not sure" (or small talk)
    ms: float


def parse_queries(data: bytes | str) -> list[LabelledQuery]:
    text = decode_csv_bytes(data) if isinstance(data, bytes) else data
    rows = list(csv_reader(text))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["query", "expected_id"]:
        raise KbCsvError("line 1 of a query file must be the header query,expected_id")
    queries = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        if len(row) > 2:
            raise KbCsvError(f"line {line}: {len(row)} columns where the header has 2 (quote the query)")
        expected = row[1].strip() if len(row) > 1 else ""
        queries.append(LabelledQuery(row[0].strip(), expected or None))
    return queries


def evaluate(answer: Callable[[str], Outcome], queries: Sequence[LabelledQuery]) -> dict[str, float | int]:
    """The figures of the module docstring for one method over `queries`."""
    outcomes = [answer(q.query) for q in queries]
    answerable = [(q, o) for q, o in zip(queries, outcomes, strict=True) if q.expected_id]
    out_of_scope = [o for q, o in zip(queries, outcomes, strict=True) if not q.expected_id]
    ms = np.array([o.ms for o in outcomes] or [0.0])

    def share(hits: int, total: int) -> float:
        return round(hits / total, 4) if total else 0.0

    n_ans = len(answerable)
    wrong = sum(o.answered not in (None, q.expected_id) for q, o in answerable)
    return {
        "top1_accuracy": share(sum(o.answered == q.expected_id for q, o in answerable), n_ans),
        "rank1_accuracy": share(sum(o.ranked_first == q.expected_id for q, o in answerable), n_ans),
        "abstain_rate": share(sum(o.answered is None for o in out_of_scope), len(out_of_scope)),
        "false_abstain_rate": share(sum(o.answered is None for _, o in answerable), n_ans),
        "wrong_answer_rate": share(wrong, n_ans),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "n_answerable": n_ans,
        "n_out_of_scope": len(out_of_scope),
    }


def timed(rank: Callable[[str], tuple[str | None, str | None]]) -> Callable[[str], Outcome]:
    """An `Outcome` maker from a function giving (ranked first, answered) for a query."""

    def answer(query: str) -> Outcome:
        start = time.perf_counter()
        first, answered = rank(query)
        return Outcome(first, answered, (time.perf_counter() - start) * 1000)

    return answer


def plain_ngrams(text: str) -> list[str]:
    """Every character unigram and bigram (no filler dropped: the baseline is plain)."""
    tokens: list[str] = []
    for run in normalize(text).split():
        seq = units(run)
        tokens += seq + [a + b for a, b in pairwise(seq)]
    return tokens


class CharBm25Baseline:
    """BM25 over character n-grams of question + alternative questions + answer, one document per entry."""

    def __init__(self, entries: Sequence[KnowledgeEntry]) -> None:
        self._ids = [e.id for e in entries]
        docs = [plain_ngrams(" ".join([*e.questions(), e.answer])) for e in entries]
        self._bm25 = bm25s.BM25()
        self._bm25.index(docs, show_progress=False)
        self._vocab = set(self._bm25.vocab_dict)

    def rank_first(self, query: str) -> str | None:
        tokens = [t for t in dict.fromkeys(plain_ngrams(query)) if t in self._vocab]
        if not tokens or not self._ids:
            return None
        scores = self._bm25.get_scores(tokens)
        best = int(np.argmax(scores))
        return self._ids[best] if scores[best] > 0 else None


def compare(
    entries: Sequence[KnowledgeEntry], queries: Sequence[LabelledQuery], ai: AISettings
) -> dict[str, Any]:
    """`kefu kb eval`: the figures of the answer path serving uses (built from `ai` as serving
    builds it), with those of the char-BM25 baseline measured in the same run under "baseline"."""
    provider = knowledge_provider(build_index(entries, ai), ai)
    provider.answer_now("预热")  # the first call loads lazily built parts; not a customer's wait

    def ours(query: str) -> tuple[str | None, str | None]:
        ranked = provider.index.search(query, limit=1)
        answer = provider.answer_now(query)
        return (ranked[0].entry.id if ranked else None), (answer.entry.id if answer.entry else None)

    def ours_timed(query: str) -> Outcome:
        # Timed alone: the answer a customer waits for, not the extra ranking call.
        start = time.perf_counter()
        provider.answer_now(query)
        ms = (time.perf_counter() - start) * 1000
        first, answered = ours(query)
        return Outcome(first, answered, ms)

    baseline = CharBm25Baseline(entries)

    def plain(query: str) -> tuple[str | None, str | None]:
        first = baseline.rank_first(query)
        return first, first  # no threshold: it always answers

    return {
        **evaluate(ours_timed, queries),
        "retrieval": provider.index.retrieval,
        "threshold": provider.threshold,
        "n_entries": len(entries),
        "baseline": {"method": "char-bm25", **evaluate(timed(plain), queries)},
    }
