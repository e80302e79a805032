"""The LLM provider: any OpenAI-compatible chat endpoint answers, with knowledge entries as context.

Every AI turn is one call (also when retrieval found nothing: the model then says it is not
sure), but small talk: a message that only greets, thanks, acknowledges or says goodbye gets
the admin's reply for its kind (`ai.small_talk`) without asking the model. The model must reply
with a JSON object — `{"not_sure": false, "answer": "…", "entry_ids": ["…"]}` or
`{"not_sure": true}` — so "not sure" is a field, never matched text.
Personal data is masked (kefu.ai.masking) in everything sent. A call that fails, times out
(`timeout_s` over all attempts) or answers out of format falls back to the knowledge base.
Each call is logged with model, latency, status and token counts — never the content.

The calls go through the Runtime's httpx client (`rt.http`, the webhook's too), which keeps its
connections alive between calls (no new TLS handshake per message) and is closed with the
Runtime. It holds no LLM setting — the URL, key, model and timeout go with each request — so a
provider built for changed settings (kefu.accounts.knowledge_base rebuilds it when the `ai:`
version moves) uses them at once on the same connections.

This module is the only one of kefu.ai that reaches the network (httpx); the reception core
imports kefu.ai.provider, fit and settings, none of which import it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from kefu.ai.builtin import KnowledgeBaseProvider
from kefu.ai.fit import TEXT_LIMIT, fit_answer
from kefu.ai.knowledge import KnowledgeIndex, Match
from kefu.ai.masking import mask_personal_data
from kefu.ai.provider import Answer, AnswerContext
from kefu.ai.settings import OpenAISettings
from kefu.logs import get_logger

log = get_logger("kefu.ai.llm")

CONTEXT_ENTRIES = 3  # the right entry is in retrieval's top 3 for 89-95 % of answerable messages
MAX_ATTEMPTS = 2  # a retry only for a connection error, 429 or 5xx, and only within timeout_s
ANSWER_CHARS = 300  # asked of the model; ≈ 900 bytes, so a menu head (1,024) rarely cuts it
RECENT_TURNS = 6

SYSTEM_PROMPT = f"""你是在线客服助手。只能依据下面提供的知识库条目回答客户的问题，不得编造条目中没有的信息。
如果条目不能回答客户的问题，或没有提供条目，就返回不确定。
只输出一个 JSON 对象，不要输出其他内容：
- 能回答时：{{"not_sure": false, "answer": "给客户的回复", "entry_ids": ["所依据条目的id"]}}
- 不能回答时：{{"not_sure": true}}
回复用简体中文，语气友好，一条消息说完，不超过{ANSWER_CHARS}个字。"""

PHRASE_PROMPT = """把下面这条客服消息换一种说法，意思、数字、时间和名称都不能变，语气友好简洁。
只输出改写后的消息本身。"""


class LLMUnavailable(Exception):
    """The endpoint did not give a usable reply in time; the knowledge base answers instead.

    The message is English (logs, the CLI); what the console's 测试 button can meet also carries
    a `problem` code and its `values`, worded like a DomainError's (kefu.errors)."""

    def __init__(
        self, message: str, problem: str = "", values: Mapping[str, str | int] | None = None
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.values = dict(values or {})


class OpenAIProvider:
    """Answers through an OpenAI-compatible chat endpoint; `knowledge` retrieves and falls back."""

    reads_recent_turns = True  # the shell reads the conversation's turns for it (not for the KB)

    def __init__(
        self, settings: OpenAISettings, knowledge: KnowledgeBaseProvider, http: httpx.AsyncClient
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.deadline_s = settings.timeout_s
        self.http = http  # the Runtime's: it outlives this provider and is closed with the Runtime

    async def answer(self, question: str, context: AnswerContext) -> Answer:
        # Small talk gets the admin's reply for its kind, as with the knowledge base alone: the
        # same words whichever provider the admin picks, and no call (cost, seconds) for a "好的".
        if (small_talk := self.knowledge.small_talk_answer(question)) is not None:
            return small_talk
        matches = self.knowledge.index.search(question, limit=CONTEXT_ENTRIES)
        try:
            reply = await self._chat(self._answer_messages(question, context, matches), purpose="answer")
            return self._read_answer(reply, matches)
        except LLMUnavailable as exc:
            log.warning("ai.llm_fallback", model=self.settings.model, reason=str(exc))
            return self.knowledge.answer_now(question)

    async def phrase(self, intent: str, facts: dict[str, str]) -> str:
        fixed = self.knowledge.phrase_now(intent, facts)
        messages = [
            {"role": "system", "content": PHRASE_PROMPT},
            {"role": "user", "content": mask_personal_data(fixed)},
        ]
        try:
            text = (await self._chat(messages, purpose="phrase")).strip()
        except LLMUnavailable:
            return fixed
        # A wording that lost a fact (a code, a time, a name) or came back masked is not used.
        if not text or any(value not in text for value in facts.values()) or "[" in text:
            return fixed
        return fit_answer(text, TEXT_LIMIT)

    def _answer_messages(
        self, question: str, context: AnswerContext, matches: list[Match]
    ) -> list[dict[str, str]]:
        entries = [
            {"id": m.entry.id, "question": m.entry.question, "answer": m.entry.answer} for m in matches
        ]
        knowledge = json.dumps(entries, ensure_ascii=False) if entries else "（没有找到相关条目）"
        recent = [t for t in context.recent_turns if t.role in ("customer", "ai", "servicer")]
        history = "\n".join(f"{t.role}: {mask_personal_data(t.text)}" for t in recent[-RECENT_TURNS:])
        user = f"知识库条目：\n{knowledge}\n\n"
        if history:
            user += f"最近的对话：\n{history}\n\n"
        user += f"客户的问题：{mask_personal_data(question)}"
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def _read_answer(self, reply: str, matches: list[Match]) -> Answer:
        try:
            data = json.loads(_strip_fence(reply))
        except ValueError:
            raise LLMUnavailable("the reply is not the JSON object asked for") from None
        if not isinstance(data, dict) or not isinstance(data.get("not_sure"), bool):
            raise LLMUnavailable("the reply has no not_sure field")
        best = matches[0].confidence if matches else 0.0
        if data["not_sure"]:
            return Answer(text=self.knowledge.not_sure_text, confidence=best, entry=None, not_sure=True)
        text = data.get("answer")
        if not isinstance(text, str) or not text.strip():
            raise LLMUnavailable("the reply has no answer")
        cited = [str(i) for i in data.get("entry_ids") or []]
        entry = next((m.entry for m in matches if m.entry.id in cited), matches[0].entry if matches else None)
        return Answer(text=fit_answer(text.strip(), TEXT_LIMIT), confidence=best, entry=entry, not_sure=False)

    async def _chat(self, messages: list[dict[str, str]], *, purpose: str) -> str:
        """The reply's text, within `timeout_s` over all attempts."""
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        headers = {}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {_reveal(self.settings.api_key)}"
        body = {"model": self.settings.model, "messages": messages, "temperature": 0.2}
        deadline = time.monotonic() + self.deadline_s
        failure: tuple[str, dict[str, str | int]] = ("", {})  # the last attempt's, coded
        for attempt in range(1, MAX_ATTEMPTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LLMUnavailable("timed out", "timed_out")
            started = time.monotonic()
            status: int | str = "error"
            usage: dict[str, Any] = {}
            try:
                response = await asyncio.wait_for(
                    self.http.post(url, json=body, headers=headers, timeout=left), left
                )
                status = response.status_code
                if response.status_code == 200:
                    payload = response.json()
                    usage = payload.get("usage") or {}
                    return str(payload["choices"][0]["message"]["content"] or "")
                retry = response.status_code == 429 or response.status_code >= 500
                failure = ("endpoint_status", {"status": response.status_code})
            except (TimeoutError, httpx.TimeoutException):
                status = "timeout"
                raise LLMUnavailable("timed out", "timed_out") from None
            except httpx.TransportError as exc:
                status, retry = f"transport: {type(exc).__name__}", True
                failure = ("unreachable", {"error": type(exc).__name__})
            except (ValueError, KeyError, IndexError, TypeError):
                status, retry = "bad reply", False
                failure = ("bad_reply", {})
            finally:
                log.info(
                    "ai.llm_call",
                    purpose=purpose,
                    model=self.settings.model,
                    attempt=attempt,
                    status=status,
                    latency_ms=round((time.monotonic() - started) * 1000, 1),
                    prompt_tokens=usage.get("prompt_tokens"),
                    completion_tokens=usage.get("completion_tokens"),
                )
            if not retry:
                break
        raise LLMUnavailable(f"the endpoint failed ({status})", *failure)


CHECK_PROMPT = "这是连接测试，请只回复：好"


async def check_endpoint(settings: OpenAISettings, http: httpx.AsyncClient) -> float:
    """One short chat, as the console's 测试 button asks: the milliseconds the endpoint took to
    answer, or LLMUnavailable saying why (timed out, the HTTP status, a transport error)."""
    provider = OpenAIProvider(settings, KnowledgeBaseProvider(KnowledgeIndex([])), http)
    started = time.monotonic()
    await provider._chat([{"role": "user", "content": CHECK_PROMPT}], purpose="check")
    return (time.monotonic() - started) * 1000


def _strip_fence(reply: str) -> str:
    """Models often wrap JSON in a ```json fence even when asked not to."""
    text = reply.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def _reveal(secret: Any) -> str:
    getter = getattr(secret, "get_secret_value", None)
    return str(getter() if getter else secret)
