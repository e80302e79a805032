"""Answer latency on a 1,000-entry knowledge base from benchmarks/gen_kb_large.py (the generator
is committed; the files are made here). The lexical path must stay well under 20 ms at p99."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kefu.ai.evaluation import compare, parse_queries
from kefu.ai.kb_csv import parse_kb_csv
from kefu.ai.settings import AISettings

GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "gen_kb_large.py"


def generate(n_entries: int, n_queries: int) -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("gen_kb_large", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(n_entries, n_queries, seed=7)


@pytest.mark.slow
def test_a_thousand_entry_knowledge_base_answers_its_own_questions() -> None:
    """The benchmark's large KB builds and answers; how fast is the benchmark's to say, not a
    timed test's (benchmarks/README.md, "AI retrieval": gen_kb_large.py then `kefu kb eval`,
    whose p99_ms was 0.5 ms when written)."""
    kb, queries = generate(1000, 300)
    parsed = parse_kb_csv(kb)
    assert not parsed.errors and len(parsed.entries) == 1000
    assert len({e.question for e in parsed.entries}) == 1000  # distinct entries
    result = compare(parsed.entries, parse_queries(queries), AISettings(retrieval="lexical"))
    assert result["rank1_accuracy"] >= 0.95  # templated wording: a sanity check, not a figure
