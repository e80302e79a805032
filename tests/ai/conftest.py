"""The demo knowledge base and its index, built once per test session (jieba loads in about a second)."""

from __future__ import annotations

import pytest

from kefu.ai import KnowledgeEntry, KnowledgeIndex, load_demo_entries


@pytest.fixture(scope="session")
def demo_entries() -> list[KnowledgeEntry]:
    return load_demo_entries()


@pytest.fixture(scope="session")
def demo_index(demo_entries: list[KnowledgeEntry]) -> KnowledgeIndex:
    return KnowledgeIndex.build(demo_entries)


from tests.ai.fake_openai import fake_openai  # noqa: E402, F401  (a fixture: the fake LLM endpoint)
