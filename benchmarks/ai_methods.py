"""The methods table of docs/ai-retrieval.md: each retrieval variant on the three splits.

    .venv/bin/python benchmarks/ai_methods.py            (about two minutes with embeddings)

Every variant is a weighted sum of channels (BM25 normalised by the query's Σ idf, a cosine,
or rapidfuzz's partial ratio / 100). Its threshold is chosen on the SaaS tuning rows only (the
score refusing 85 % of their out-of-scope queries, as kefu.ai.knowledge's calibration does)
and then applied unchanged to the held-out rows and to the grocery set. Printed per split:
rank-1 (threshold ignored), top-1 answered, abstain. The decision variants after the table
(another abstain target, a logistic confidence, a rerank of the top 3, weights from a grid)
are in benchmarks/ai_fusion.py, which reuses this module's scorer.
"""

from __future__ import annotations

import math
import re
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ai_eval_splits import DATA, SPLITS, split

from kefu.ai.bm25 import Bm25
from kefu.ai.chars import char_ngrams, is_small_talk, pinyin_ngrams, units
from kefu.ai.embeddings import local_embedder
from kefu.ai.evaluation import plain_ngrams
from kefu.ai.kb_csv import parse_kb_csv
from kefu.ai.text import SYNONYMS, normalize, tokenize

try:
    from rapidfuzz import fuzz
except ImportError:  # the dev extra has it; without it the fuzzy rows are skipped
    fuzz = None

_SYN_KEYS = sorted(SYNONYMS, key=len, reverse=True)


def with_synonyms(text: str) -> str:
    """The built-in customer-service equivalences (kefu.ai.text.SYNONYMS) rewritten to one form."""
    for key in _SYN_KEYS:
        text = text.replace(key, SYNONYMS[key])
    return text


def plain_pinyin(text: str) -> list[str]:
    from pypinyin import lazy_pinyin

    out: list[str] = []
    for run in normalize(text).split():
        seq = [u if u.isascii() else lazy_pinyin(u)[0] for u in units(run)]
        out += ["py:" + t for t in seq + [a + b for a, b in pairwise(seq)]]
    return out


# channel name -> (tokens of a text, which text of an entry)
TOKENIZERS = {
    "char": char_ngrams,
    "plain": plain_ngrams,
    "pinyin": pinyin_ngrams,
    "plain_pinyin": plain_pinyin,
    "syn": lambda t: char_ngrams(with_synonyms(t)),
    "words": tokenize,
}
METHODS: dict[str, dict[str, float]] = {
    "jieba words (questions)": {"words:q": 1},
    "chars (questions)": {"plain:q": 1},
    "chars (questions) + answer 0.7": {"plain:q": 1, "plain:a": 0.7},
    "+ pinyin of questions+answer": {"plain:q": 0.3, "plain:a": 0.3, "plain_pinyin:qa": 0.3},
    "+ filler characters dropped = LEXICAL (kept)": {"char:q": 0.3, "char:a": 0.3, "pinyin:qa": 0.3},
    "lexical + built-in synonyms": {"syn:q": 0.3, "syn:a": 0.3, "pinyin:qa": 0.3},
    "lexical + jieba words": {"char:q": 0.3, "char:a": 0.3, "pinyin:qa": 0.3, "words:q": 0.3},
    "embeddings only (question, answer)": {"emb:q": 2, "emb:a": 1},
    "chars(q+a) + embeddings = HYBRID (kept)": {"char:qa": 0.5, "emb:q": 2, "emb:a": 1},
    "hybrid + pinyin": {"char:qa": 0.5, "pinyin:qa": 0.3, "emb:q": 2, "emb:a": 1},
    "hybrid + built-in synonyms": {"syn:qa": 0.5, "emb:q": 2, "emb:a": 1},
    "hybrid, e5 'query:' prefix on entry questions": {"char:qa": 0.5, "embs:q": 2, "emb:a": 1},
    "hybrid + fuzzy partial ratio of questions 0.5": {"char:qa": 0.5, "emb:q": 2, "emb:a": 1, "fuzz:q": 0.5},
    "hybrid + fuzzy partial ratio of answer 0.5": {"char:qa": 0.5, "emb:q": 2, "emb:a": 1, "fuzz:a": 0.5},
    "hybrid + embedding of the whole entry (questions + answer) 0.5": {
        "char:qa": 0.5,
        "emb:q": 2,
        "emb:a": 1,
        "emb:qa": 0.5,
    },
    "hybrid + embedding of the whole entry 2": {"char:qa": 0.5, "emb:q": 2, "emb:a": 1, "emb:qa": 2},
    "hybrid + best answer sentence 1": {"char:qa": 0.5, "emb:q": 2, "emb:a": 1, "emb:as": 1},
    "hybrid, best answer sentence in place of the answer": {"char:qa": 0.5, "emb:q": 2, "emb:as": 1},
    # The best of a 216-point grid on the tuning rows (benchmarks/ai_fusion.py --grid).
    "hybrid, grid-chosen weights (+ pinyin)": {
        "char:qa": 0.25,
        "pinyin:qa": 0.3,
        "emb:q": 1,
        "embs:q": 1,
        "emb:a": 1.5,
    },
}
HYBRID = "chars(q+a) + embeddings = HYBRID (kept)"


SMALL_TALK = True  # small talk refused before scoring, as kefu.ai.knowledge does


def answer_sentences(answer: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[。；;！!？?\n]", answer)]
    return [p for p in parts if len(p) >= 4] or [answer]


class Scorer:
    def __init__(self, entries, embedder) -> None:
        self.ids = [e.id for e in entries]
        self.texts = {
            "q": [" ".join(e.questions()) for e in entries],
            "a": [e.answer for e in entries],
            "qa": [" ".join([*e.questions(), e.answer]) for e in entries],
        }
        self.entries, self.embedder, self.bm25 = entries, embedder, {}
        if embedder is not None:
            texts = [q for e in entries for q in e.questions()]
            self.qv, self.av = embedder.embed_passages(texts), embedder.embed_passages(self.texts["a"])
            self.qsv = embedder.embed_queries(texts)  # e5's symmetric prefix, question to question
            self.qav = embedder.embed_passages(self.texts["qa"])  # the whole entry as one passage
            # Each sentence of an answer on its own: a customer often asks about one detail of it.
            sentences = [(i, t) for i, e in enumerate(entries) for t in answer_sentences(e.answer)]
            self.sentence_owner = np.array([i for i, _ in sentences])
            self.sv = embedder.embed_passages([t for _, t in sentences])
        self.norm_questions = [normalize(q) for e in entries for q in e.questions()]
        self.norm_answers = [normalize(e.answer) for e in entries]
        self.owner = np.array([i for i, e in enumerate(entries) for _ in e.questions()])

    def channel(self, name: str, query: str, qvec) -> np.ndarray:
        kind, field = name.split(":")
        if kind in ("emb", "embs"):
            if field == "a":
                return self.av @ qvec
            if field == "qa":
                return self.qav @ qvec
            if field == "as":
                best = np.full(len(self.ids), -1.0)
                np.maximum.at(best, self.sentence_owner, self.sv @ qvec)
                return best
            return self.best_question(self.qv @ qvec if kind == "emb" else self.qsv @ qvec)
        if kind == "fuzz":
            text = normalize(query)
            if field == "a":
                return np.array([fuzz.partial_ratio(text, a) for a in self.norm_answers]) / 100
            return self.best_question(
                np.array([fuzz.partial_ratio(text, q) for q in self.norm_questions]) / 100
            )
        if name not in self.bm25:
            self.bm25[name] = Bm25([TOKENIZERS[kind](t) for t in self.texts[field]])
        bm25, tokens = self.bm25[name], TOKENIZERS[kind](query)
        return bm25.scores(tokens) / max(bm25.query_weight(tokens), 1e-9)

    def best_question(self, by_question: np.ndarray) -> np.ndarray:
        best = np.full(len(self.ids), -1.0)
        np.maximum.at(best, self.owner, by_question)
        return best


def run(weights, scorer, queries, qvecs):
    rows = []
    for q in queries:
        if not char_ngrams(q.query) or (SMALL_TALK and is_small_talk(q.query)):  # as KnowledgeIndex
            rows.append((0.0, scorer.ids[0], q.expected_id))
            continue
        s = sum(w * scorer.channel(n, q.query, qvecs.get(q.query)) for n, w in weights.items())
        best = int(np.argmax(s))
        rows.append((float(s[best]), scorer.ids[best], q.expected_id))
    return rows


def figures(rows, threshold):
    ans = [r for r in rows if r[2]]
    oos = [r for r in rows if not r[2]]
    return (
        sum(r[1] == r[2] for r in ans) / len(ans),
        sum(r[0] >= threshold and r[1] == r[2] for r in ans) / len(ans),
        sum(r[0] < threshold for r in oos) / len(oos),
    )


def load(embedder):
    """split name -> (scorer of its business, its queries, query vectors by text)."""
    scorers, data = {}, {}
    for name in SPLITS:
        business, queries = split(name)
        if business not in scorers:
            entries = parse_kb_csv((DATA / f"kb_{business}.csv").read_bytes()).entries
            scorers[business] = Scorer(entries, embedder)
        qvecs = {}
        if embedder is not None:
            vectors = embedder.embed_queries([q.query for q in queries])
            qvecs = dict(zip([q.query for q in queries], vectors, strict=True))
        data[name] = (scorers[business], queries, qvecs)
    return data


def main() -> None:
    embedder = local_embedder()
    data = load(embedder)
    print("| method | " + " | ".join(f"{s}: rank-1 / top-1 / abstain" for s in SPLITS) + " |")
    print("|---|" + "---|" * len(SPLITS))
    for method, weights in METHODS.items():
        if embedder is None and any(n.startswith("emb") for n in weights):
            continue
        if fuzz is None and any(n.startswith("fuzz") for n in weights):
            continue
        print(table_row(method, {name: run(weights, *data[name]) for name in SPLITS}))


def table_row(method: str, results: dict[str, list[Any]]) -> str:
    """One methods-table row: the threshold refusing 85 % of the TUNING rows' out-of-scope
    messages, applied unchanged to every split (rank-1 / top-1 answered / abstain)."""
    oos = sorted(r[0] for r in results["tune"] if not r[2])
    threshold = oos[math.ceil(0.85 * len(oos)) - 1] + 1e-6
    cells = [" / ".join(f"{x:.0%}" for x in figures(results[s], threshold)) for s in SPLITS]
    return f"| {method} | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
