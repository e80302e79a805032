"""A small BM25 over token lists, with its scores normalised by what the query could score at most.

Why our own: a channel of the retriever (characters, pinyin, answer text) needs per-token idf,
a query's own best possible score, and a few hundred microseconds per query on a thousand
entries — a posting list per token, concatenated for the query's tokens and summed by one
`np.bincount`, does that.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

K1 = 1.2
B = 0.75


class Bm25:
    """BM25 (Lucene's idf) over `docs`, each a list of tokens (repeats count)."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        self.n_docs = len(docs)
        lengths = np.array([len(d) for d in docs] or [0], dtype=np.float64)
        avg = float(lengths.mean()) or 1.0
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for doc_id, doc in enumerate(docs):
            norm = K1 * (1 - B + B * len(doc) / avg)
            for token, tf in Counter(doc).items():
                ids, weights = postings.setdefault(token, ([], []))
                ids.append(doc_id)
                weights.append(tf * (K1 + 1) / (tf + norm))
        self.idf = {t: _idf(len(ids), self.n_docs) for t, (ids, _) in postings.items()}
        # A token the index has never seen is as telling as the rarest one.
        self.unknown_idf = _idf(0, self.n_docs)
        self._postings = {
            t: (np.array(ids, dtype=np.int64), np.array(w) * self.idf[t]) for t, (ids, w) in postings.items()
        }

    def scores(self, query: Iterable[str]) -> np.ndarray:
        """BM25 of each document for the distinct tokens of `query`."""
        postings = [p for p in map(self._postings.get, dict.fromkeys(query)) if p is not None]
        if not postings:
            return np.zeros(self.n_docs, dtype=np.float64)
        ids = np.concatenate([p[0] for p in postings])
        weights = np.concatenate([p[1] for p in postings])
        return np.bincount(ids, weights, minlength=self.n_docs).astype(np.float64, copy=False)

    def query_weight(self, query: Iterable[str]) -> float:
        """Σ idf over the distinct query tokens, unknown ones at the rarest weight: a score's scale."""
        return sum(self.idf.get(t, self.unknown_idf) for t in dict.fromkeys(query))


def _idf(doc_freq: int, n_docs: int) -> float:
    return math.log(1 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
