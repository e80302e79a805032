"""Decision variants of the hybrid retrieval for docs/ai-retrieval.md (issue #11), on the three splits.

    .venv/bin/python benchmarks/ai_fusion.py [--grid]     (a few minutes with embeddings)

Each variant is fitted or chosen on the SaaS tuning rows only, then applied unchanged to the
held-out rows and the grocery set; printed per split: rank-1 / top-1 answered / abstain.

- abstain target: the threshold refusing 82 % instead of 85 % of the tuning out-of-scope rows;
- logistic confidence: P(first entry right) from the best score and its margin over the second
  entry, fitted by Newton's method (5-fold cross-validated figure on the tuning rows first);
- top-3 rerank: the first three entries reordered by score + 0.2 · fuzzy partial ratio with
  their questions (a finer, typo-tolerant signal, applied only where the decision is made);
- KB level: the best score of each entry's question against the other entries (how close a
  near-miss gets in that knowledge base), per business — would a per-KB threshold shift help?
- --grid: the channel weights chosen from a grid on the tuning rows, with a nested 5-fold
  cross-validation of that choice against the shipped weights.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ai_methods import HYBRID, METHODS, load

from kefu.ai.chars import char_ngrams, is_small_talk
from kefu.ai.embeddings import local_embedder

SPLITS = ("tune", "held-out", "grocery")
CHANNELS = ("char:qa", "pinyin:qa", "emb:q", "embs:q", "emb:a", "fuzz:q")


class Row:
    """One query: each channel's scores over the entries (None when refused before scoring)."""

    def __init__(self, scorer, query, qvec) -> None:
        self.target = scorer.ids.index(query.expected_id) if query.expected_id else -1
        gated = not char_ngrams(query.query) or is_small_talk(query.query)
        self.channels = None if gated else {c: scorer.channel(c, query.query, qvec) for c in CHANNELS}

    def scores(self, weights) -> np.ndarray | None:
        if self.channels is None:
            return None
        return sum(w * self.channels[c] for c, w in weights.items())


def decide(rows, weights, *, rerank=0.0):
    """Per row (best score, margin to the second, first entry, target); first = -1 when refused."""
    out = []
    for row in rows:
        s = row.scores(weights)
        if s is None:
            out.append((-1e9, 0.0, -1, row.target))
            continue
        order = np.argsort(-s, kind="stable")
        first = int(order[0])
        if rerank:
            top = order[:3]
            first = int(top[np.argmax(s[top] + rerank * row.channels["fuzz:q"][top])])
        out.append((float(s[first]), float(s[order[0]] - s[order[1]]), first, row.target))
    return out


def threshold(confidence, decided, target=0.85) -> float:
    oos = sorted(c for c, d in zip(confidence, decided, strict=True) if d[3] < 0)
    return oos[math.ceil(target * len(oos)) - 1] + 1e-6


def figures(confidence, decided, at) -> tuple[float, float, float]:
    ans = [(c, d) for c, d in zip(confidence, decided, strict=True) if d[3] >= 0]
    oos = [c for c, d in zip(confidence, decided, strict=True) if d[3] < 0]
    return (
        sum(d[2] == d[3] for _, d in ans) / len(ans),
        sum(c >= at and d[2] == d[3] for c, d in ans) / len(ans),
        sum(c < at for c in oos) / len(oos),
    )


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Coefficients (last: intercept) of an L2-regularised logistic regression, by Newton's method."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(x1.shape[1])
    penalty = l2 * np.r_[np.ones(len(w) - 1), 0]
    for _ in range(50):
        p = 1 / (1 + np.exp(-x1 @ w))
        hessian = (x1.T * (p * (1 - p))) @ x1 + np.diag(penalty)
        w -= np.linalg.solve(hessian, x1.T @ (p - y) + penalty * w)
    return w


def logistic_features(decided) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[d[0] if d[2] >= 0 else 0.0, d[1]] for d in decided])
    y = np.array([float(d[3] >= 0 and d[2] == d[3]) for d in decided])
    return x, y


def confidences(w: np.ndarray, decided) -> list[float]:
    x, _ = logistic_features(decided)
    p = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    return [float(c) if d[2] >= 0 else -1.0 for c, d in zip(p, decided, strict=True)]


def percent(figures) -> str:
    return " / ".join(f"{x:.1%}" for x in figures)


def line(name, cells) -> None:
    print(f"| {name} | " + " | ".join(" / ".join(f"{x:.0%}" for x in c) for c in cells) + " |")


def by_split(rows, weights, confidence_of=lambda d: [x[0] for x in d], target=0.85, rerank=0.0):
    decided = {s: decide(rows[s], weights, rerank=rerank) for s in SPLITS}
    conf = {s: confidence_of(decided[s]) for s in SPLITS}
    at = threshold(conf["tune"], decided["tune"], target)
    return [figures(conf[s], decided[s], at) for s in SPLITS]


def folds(n: int, k: int = 5) -> np.ndarray:
    return np.random.default_rng(1).permutation(n) % k


def logistic_cv(rows, weights) -> tuple[float, float, float]:
    decided = decide(rows["tune"], weights)
    x, y = logistic_features(decided)
    fold, conf = folds(len(decided)), np.zeros(len(decided))
    for k in range(5):
        w = fit_logistic(x[fold != k], y[fold != k])
        conf[fold == k] = confidences(w, [d for d, f in zip(decided, fold, strict=True) if f == k])
    return figures(list(conf), decided, threshold(list(conf), decided))


def kb_levels(data, weights) -> None:
    """Median over an entry's questions of their best score against the other entries."""
    for name in ("tune", "grocery"):
        scorer = data[name][0]
        best = []
        questions = [(i, q) for i, e in enumerate(scorer.entries) for q in e.questions()]
        for j, (i, q) in enumerate(questions):
            s = sum(w * channel_for_question(scorer, c, q, j) for c, w in weights.items())
            s[i] = -np.inf
            best.append(s.max())
        print(f"KB level ({'saas' if name == 'tune' else name}): near-miss median {np.median(best):.3f}")


def channel_for_question(scorer, channel, question, j) -> np.ndarray:
    if channel.startswith("emb"):  # the question as a query: its "query:" vector
        return scorer.channel(channel, question, scorer.qsv[j])
    return scorer.channel(channel, question, None)


def grid(rows, shipped) -> None:
    candidates = [
        {"char:qa": qa, "emb:q": eq, "embs:q": eqs, "emb:a": ea, "pinyin:qa": py}
        for qa, eq, eqs, ea, py in itertools.product(
            [0.25, 0.5, 0.75], [0, 1, 2, 3], [0, 1, 2], [0.5, 1, 1.5], [0, 0.3]
        )
        if eq + eqs
    ]
    decided = [decide(rows["tune"], w) for w in [*candidates, shipped]]
    fold = folds(len(rows["tune"]))

    def value(d, mask):
        part = [x for x, m in zip(d, mask, strict=True) if m]
        conf = [x[0] for x in part]
        return figures(conf, part, threshold(conf, part))

    best = max(range(len(candidates)), key=lambda i: sum(value(decided[i], np.ones(len(fold), bool))[:2]))
    print("grid best on all tuning rows:", candidates[best])
    for label, pool in (
        ("shipped weights", [len(candidates)]),
        ("grid chosen inside each fold", range(len(candidates))),
    ):
        total = np.zeros(3)
        for k in range(5):
            chosen = max(pool, key=lambda i: sum(value(decided[i], fold != k)[:2]))
            train = [x for x, f in zip(decided[chosen], fold, strict=True) if f != k]
            test = [x for x, f in zip(decided[chosen], fold, strict=True) if f == k]
            at = threshold([x[0] for x in train], train)
            total += np.array(figures([x[0] for x in test], test, at)) * len(test)
        print(f"nested 5-fold CV on tuning rows, {label}: {percent(total / len(fold))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    embedder = local_embedder()
    if embedder is None:
        sys.exit("the embeddings extra (kefu[embeddings]) is needed")
    data = load(embedder)
    rows = {
        s: [Row(scorer, q, qvecs.get(q.query)) for q in queries]
        for s, (scorer, queries, qvecs) in data.items()
    }
    weights = METHODS[HYBRID]
    print("| variant | " + " | ".join(SPLITS) + " |\n|---|---|---|---|")
    line("hybrid, 85 % of tuning out-of-scope refused (shipped)", by_split(rows, weights))
    line("hybrid, 82 % refused", by_split(rows, weights, target=0.82))
    w = fit_logistic(*logistic_features(decide(rows["tune"], weights)))
    line(
        f"logistic(score, margin) = {np.round(w, 2).tolist()}",
        by_split(rows, weights, lambda d: confidences(w, d)),
    )
    line("hybrid, top-3 reranked + 0.2 fuzzy", by_split(rows, weights, rerank=0.2))
    print(f"tuning rows, score only (one threshold): {percent(by_split(rows, weights)[0])}")
    print(f"tuning rows, logistic, 5-fold CV:        {percent(logistic_cv(rows, weights))}")
    kb_levels(data, weights)
    if args.grid:
        grid(rows, weights)


if __name__ == "__main__":
    main()
