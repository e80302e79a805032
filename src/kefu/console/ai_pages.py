"""AI 设置: the `ai:` section — which AI answers (the built-in knowledge base, or an
OpenAI-compatible endpoint), its not-sure text, small-talk replies, retrieval, threshold and
synonyms — checked by the same schema as the config file (AISettings) and saved as a new
version, audited. Each refused value is worded beside its field in the reader's language
(`settings.problem.<code>`).

The API key is never sent back to the browser: the form shows only that one is stored (and its
last characters); an empty key field keeps it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kefu.accounts.settings import SettingsInvalid, load_ai_settings, save_ai_settings, validate_ai_settings
from kefu.ai.chars import SMALL_TALK_KINDS
from kefu.ai.llm import LLMUnavailable, check_endpoint
from kefu.ai.settings import AISettings
from kefu.console.i18n import problem_words
from kefu.console.menu import ADMIN
from kefu.console.web import Viewer, form, redirect, render, role, runtime_of
from kefu.schema_types import Problem

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(role(*ADMIN))]
OPENAI_FIELDS = ("base_url", "model", "timeout_s")
PLAIN_FIELDS = ("provider", "not_sure_text", "retrieval", "threshold")
SMALL_TALK_FIELDS = tuple(f"small_talk.{kind}" for kind in SMALL_TALK_KINDS)
FIELDS = {
    *PLAIN_FIELDS,
    *SMALL_TALK_FIELDS,
    "synonyms",
    "openai.api_key",
    *(f"openai.{n}" for n in OPENAI_FIELDS),
}


def _synonyms_text(synonyms: dict[str, list[str]]) -> str:
    return "\n".join(f"{term}: {', '.join(variants)}" for term, variants in synonyms.items())


def _parse_synonyms(text: str) -> dict[str, list[str]]:
    """One `term: variant, variant` per line (，and 、 separate too); a line without its colon
    is refused as a settings problem, worded like the schema's."""
    parsed: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        term, colon, rest = line.replace("：", ":").partition(":")
        if not colon or not term.strip():
            reason = f"line {number}: write it as 词: 说法1, 说法2"
            raise SettingsInvalid([Problem("synonyms", None, reason, "synonym_line", {"line": number})])
        variants = [v.strip() for v in rest.replace("，", ",").replace("、", ",").split(",") if v.strip()]
        parsed[term.strip()] = variants
    return parsed


def _values_of(ai: AISettings) -> dict[str, str]:
    values = {name: str(getattr(ai, name)) for name in PLAIN_FIELDS}
    values["synonyms"] = _synonyms_text(ai.synonyms)
    for kind, reply in ai.small_talk.by_kind().items():
        values[f"small_talk.{kind}"] = reply
    for name in OPENAI_FIELDS:
        values[f"openai.{name}"] = str(getattr(ai.openai, name)) if ai.openai else ""
    return values


def _key_hint(ai: AISettings) -> str:
    key = ai.openai.api_key if ai.openai else None
    return f"…{key[-4:]}" if isinstance(key, str) and len(key) >= 12 else ("…" if key else "")


async def _page(request: Request, status: int = 200, **context: Any) -> Response:
    async with runtime_of(request).db.read() as session:
        stored = await load_ai_settings(session, runtime_of(request).secrets)
    context.setdefault("values", _values_of(stored))
    context.setdefault("errors", {})
    return render(
        request,
        "ai_settings.html",
        status,
        key_hint=_key_hint(stored),
        phrases=stored.phrases,
        small_talk_kinds=SMALL_TALK_KINDS,
        **context,
    )


@router.get("/console/ai")
async def ai_page(request: Request, viewer: Admin) -> Response:
    return await _page(request)


def _wanted(data: FormData, values: dict[str, str], stored: AISettings) -> dict[str, Any]:
    """The section the form asks for, as the config file would write it (phrases kept)."""
    wanted: dict[str, Any] = {name: values[name] for name in PLAIN_FIELDS}
    wanted["phrases"] = stored.phrases
    wanted["synonyms"] = _parse_synonyms(values["synonyms"])
    # An empty reply is no reply, so a field the form left out keeps the stored one rather than
    # silencing that kind.
    stored_replies = stored.small_talk.by_kind()
    wanted["small_talk"] = {
        kind: values[f"small_talk.{kind}"] if f"small_talk.{kind}" in data else stored_replies[kind]
        for kind in SMALL_TALK_KINDS
    }
    openai: dict[str, Any] = {
        name: values[f"openai.{name}"] for name in OPENAI_FIELDS if values[f"openai.{name}"]
    }
    new_key = str(data.get("openai.api_key") or "").strip()
    kept_key = stored.openai.api_key if stored.openai else None
    if openai or new_key or values["provider"] == "openai":
        openai.setdefault("base_url", "")
        openai.setdefault("model", "")
        openai["api_key"] = new_key or kept_key
        wanted["openai"] = openai
    return wanted


def _field_of(path: str) -> str:
    """The form field a problem's path is about; the section's own rules (`(top level)`, the
    whole `openai` group) are about the provider."""
    if path.startswith("synonyms"):  # synonyms, or one term's list: synonyms.云笺[0]
        return "synonyms"
    return path if path in FIELDS else "provider"


def _checked(
    viewer: Viewer, data: FormData, values: dict[str, str], stored: AISettings
) -> AISettings | dict[str, str]:
    """The form's section, or its problems by field in the reader's language
    (`settings.problem.<code>`, as the account tabs word theirs)."""
    try:
        return validate_ai_settings(_wanted(data, values, stored))
    except SettingsInvalid as exc:
        errors: dict[str, str] = {}
        for p in exc.problems:
            field, said = (
                _field_of(p.path),
                problem_words(viewer.t, "settings", p.problem, p.values, p.reason),
            )
            errors[field] = f"{errors[field]}; {said}" if field in errors else said
        return errors


def _form_values(data: FormData) -> dict[str, str]:
    names = (*PLAIN_FIELDS, *SMALL_TALK_FIELDS, "synonyms", *(f"openai.{n}" for n in OPENAI_FIELDS))
    return {name: str(data.get(name) or "").strip() for name in names}


@router.post("/console/ai/test")
async def test_endpoint(request: Request, viewer: Admin) -> Response:
    """测试: one short chat with the endpoint as filled in (the stored key if left empty);
    nothing is saved."""
    data = await form(request, viewer)
    values = _form_values(data)
    rt = runtime_of(request)
    async with rt.db.read() as session:
        stored = await load_ai_settings(session, rt.secrets)
    checked = _checked(viewer, data, values, stored)
    if isinstance(checked, dict):
        return await _page(request, 422, values=values, errors=checked)
    if checked.openai is None:
        errors = {"openai.base_url": viewer.t("ai_settings.test_needs_endpoint")}
        return await _page(request, 422, values=values, errors=errors)
    try:
        took = await check_endpoint(checked.openai, rt.http)
    except LLMUnavailable as exc:
        reason = problem_words(viewer.t, "ai_settings", exc.problem, exc.values, str(exc))
        message = viewer.t("ai_settings.test_failed", reason=reason)
        return await _page(request, values=values, test_result=message, test_ok=False)
    message = viewer.t("ai_settings.test_ok", ms=round(took))
    return await _page(request, values=values, test_result=message, test_ok=True)


@router.post("/console/ai")
async def save_ai(request: Request, viewer: Admin) -> Response:
    data = await form(request, viewer)
    values = _form_values(data)
    rt = runtime_of(request)
    async with rt.db.write() as session:
        stored = await load_ai_settings(session, rt.secrets)
        ai = _checked(viewer, data, values, stored)
        if isinstance(ai, dict):
            return await _page(request, 422, values=values, errors=ai)
        saved = await save_ai_settings(
            session,
            ai,
            secrets=rt.secrets,
            changed_by=viewer.user.username,
            source="console",
            now=rt.clock.now(),
        )
    return redirect("/console/ai?saved=1" if saved else "/console/ai?unchanged=1")
