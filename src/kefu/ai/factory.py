"""Building the AI of an account from its entries and the `ai:` settings — one way for serving,
`kefu kb ask` and `kefu kb eval`, so that what is measured is what answers customers."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from kefu.ai.builtin import KnowledgeBaseProvider
from kefu.ai.chars import pinyin_ngrams
from kefu.ai.embeddings import embedder_for, local_embedder
from kefu.ai.knowledge import KnowledgeEntry, KnowledgeIndex
from kefu.ai.llm import OpenAIProvider
from kefu.ai.phrasing import PhraseBook
from kefu.ai.provider import AIProvider
from kefu.ai.settings import AISettings


def build_index(entries: Iterable[KnowledgeEntry], ai: AISettings) -> KnowledgeIndex:
    """CPU work (embedding new entries takes longest): callers on an event loop use a thread."""
    return KnowledgeIndex.build(entries, embedder_for(ai.retrieval), ai.synonyms)


def knowledge_provider(index: KnowledgeIndex, ai: AISettings) -> KnowledgeBaseProvider:
    return KnowledgeBaseProvider(
        index,
        threshold=ai.threshold,
        not_sure_text=ai.not_sure_text,
        phrasings=PhraseBook(ai.phrases),
        small_talk=ai.small_talk.by_kind(),
    )


def answering_provider(
    knowledge: KnowledgeBaseProvider, ai: AISettings, http: httpx.AsyncClient
) -> AIProvider:
    """What answers customers: the LLM (retrieving and falling back through `knowledge`, calling
    through `http`, the Runtime's client) when `ai.provider` is openai, else `knowledge` itself."""
    if ai.provider == "openai" and ai.openai is not None:
        return OpenAIProvider(ai.openai, knowledge, http)
    return knowledge


def warm_up(retrieval: str) -> None:
    """Load pypinyin's dictionary and, when `retrieval` may use it and the extra is installed,
    the embedding model now, rather than on a customer's first question. With `lexical` the
    model stays unloaded: it would cost ~150 MB for nothing."""
    pinyin_ngrams("预热")
    if retrieval != "lexical":
        local_embedder()
