"""Refit the confidence calibration of kefu.ai.knowledge on the SaaS tuning rows (1-196 only).

    .venv/bin/python benchmarks/ai_calibrate.py

For each channel set (lexical; hybrid when the embeddings extra is installed) it prints
`center`, the best-entry score at which 85 % of the tuning out-of-scope queries are refused,
and `slope`, the logistic fit of "the first-ranked entry is the right one" on that score.
Copy them into LEXICAL / HYBRID. Held-out rows and the grocery set are never read here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kefu.ai.embeddings import local_embedder
from kefu.ai.evaluation import parse_queries
from kefu.ai.kb_csv import parse_kb_csv
from kefu.ai.knowledge import KnowledgeIndex

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TUNE_ROWS = 196
ABSTAIN_TARGET = 0.85


def fit_slope(scores: np.ndarray, right: np.ndarray, center: float) -> float:
    """Maximum-likelihood slope of P(right) = σ(slope · (score − center)), by a 1-D search."""

    def loss(slope: float) -> float:
        p = 1 / (1 + np.exp(-slope * (scores - center)))
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return float(-np.sum(right * np.log(p) + (1 - right) * np.log(1 - p)))

    return min((s / 10 for s in range(1, 400)), key=loss)


def main() -> None:
    entries = parse_kb_csv((DATA / "kb_saas.csv").read_bytes()).entries
    queries = parse_queries((DATA / "queries_saas.csv").read_bytes())[:TUNE_ROWS]
    local = local_embedder()
    if local is None:
        print("hybrid: the embeddings extra is not installed")
    for embedder in [None, *([local] if local else [])]:
        index = KnowledgeIndex.build(entries, embedder)
        top, right, oos = [], [], []
        for q in queries:
            scores = index.scores(q.query)
            best = int(np.argmax(scores))
            if not index.search(q.query, limit=1):  # small talk or filler only: never answered
                scores[best] = -1.0
            top.append(float(scores[best]))
            right.append(float(q.expected_id == entries[best].id))
            if q.expected_id is None:
                oos.append(float(scores[best]))
        oos.sort()
        center = oos[math.ceil(ABSTAIN_TARGET * len(oos)) - 1] + 1e-6
        slope = fit_slope(np.array(top), np.array(right), center)
        print(f"{index.retrieval}: center={center:.6f} slope={slope:.1f}")


if __name__ == "__main__":
    main()
