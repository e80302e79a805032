"""知识库: an account's knowledge entries — list, search, add/edit/disable/delete, import and
export (the same services as `kefu kb` and the REST API), and 试一试 (what the AI would answer).

Every write goes through `put_entries`/`delete_entry`, which stamp the rows: the index is
rebuilt on its next answer in every process (no restart), and the change is audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from kefu.accounts.kf_accounts import list_all_accounts
from kefu.accounts.knowledge_base import (
    KbImport,
    delete_entry,
    entries_csv,
    import_csv,
    list_entries,
    put_entries,
)
from kefu.accounts.knowledge_provider import ask_knowledge
from kefu.accounts.models import KfAccount
from kefu.accounts.settings import get_account
from kefu.ai.kb_csv import KbError, RowError, check_entry
from kefu.ai.kb_xlsx import entries_xlsx
from kefu.ai.knowledge import KnowledgeEntry
from kefu.api.body_limit import MAX_IMPORT_BYTES
from kefu.api.deps import IdPath, IdQuery
from kefu.api.notices import leave_notice, read_notice
from kefu.api.users import real_now
from kefu.console.form_body import take_upload
from kefu.console.i18n import problem_words
from kefu.console.menu import MANAGERS
from kefu.console.web import Viewer, console_actor, form, redirect, refusal_words, render, role, runtime_of
from kefu.db.base import MAX_ID
from kefu.errors import Invalid, NotFound

router = APIRouter(include_in_schema=False)
Manager = Annotated[Viewer, Depends(role(*MANAGERS))]
PAGE_SIZE = 20
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_RESULT = TypeAdapter(KbImport)  # an import's result, kept as JSON for the page after it
# The first word of a kb_csv problem names the form field it is about.
FIELD_OF_PROBLEM = {"id": "id", "question": "question", "answer": "answer", "alt": "alt", "tag": "tags"}


def _field_of(problem: str) -> str:
    return FIELD_OF_PROBLEM.get(problem.split("_")[0], "question")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("|", "\n").splitlines() if line.strip()]


def _matches(entry: KnowledgeEntry, q: str) -> bool:
    q = q.lower()
    texts = (entry.id, entry.question, entry.answer, *entry.alt_questions, *entry.tags)
    return any(q in text.lower() for text in texts)


async def _account(request: Request, account_id: int | None) -> tuple[list[KfAccount], KfAccount | None]:
    """Every account, and the one asked for (else the first)."""
    async with runtime_of(request).db.read() as session:
        accounts = await list_all_accounts(session)
        if account_id is not None:
            return accounts, await get_account(session, account_id)
    return accounts, accounts[0] if accounts else None


async def _page(
    request: Request, account_id: int | None, q: str = "", page: int = 1, status: int = 200, **context: object
) -> Response:
    accounts, account = await _account(request, account_id)
    entries: list[KnowledgeEntry] = []
    if account is not None:
        async with runtime_of(request).db.read() as session:
            entries = await list_entries(session, account.id)
    found = [e for e in entries if _matches(e, q)] if q else entries
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    t = request.state.viewer.t

    def row_reason(error: RowError) -> str:
        return problem_words(t, "knowledge", error.problem, error.values, error.reason)

    return render(
        request,
        "knowledge.html",
        status,
        accounts=accounts,
        account=account,
        entries=shown,
        total=len(found),
        page=page,
        pages=pages,
        q=q,
        row_reason=row_reason,
        **context,
    )


@router.get("/console/knowledge")
async def knowledge_page(
    request: Request,
    viewer: Manager,
    account: IdQuery = None,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_ID)] = 1,
    imported: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    result = None
    if imported:  # the import's redirect: its result, however often the page is reloaded
        async with runtime_of(request).db.read() as session:
            body = await read_notice(session, viewer.session_id, imported)
        result = IMPORT_RESULT.validate_python(body) if body is not None else None
    return await _page(request, account, q.strip(), page, imported=result)


@router.get("/console/knowledge/{account_id}/export")
async def export_knowledge(
    request: Request, account_id: IdPath, viewer: Manager, format: Literal["csv", "xlsx"] = "csv"
) -> Response:
    async with runtime_of(request).db.read() as session:
        row = await get_account(session, account_id)
        entries = await list_entries(session, row.id)
    filename = f"knowledge-{row.id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "xlsx":
        return Response(entries_xlsx(entries), media_type=XLSX_TYPE, headers=headers)
    # A BOM first, as the report's CSV: Excel then reads the Chinese (the import drops it).
    return Response(
        ("\ufeff" + entries_csv(entries)).encode(), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get("/console/knowledge/{account_id}/entry")
async def entry_form(
    request: Request,
    account_id: IdPath,
    viewer: Manager,
    id: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The form of a new entry (no id) or of an existing one."""
    async with runtime_of(request).db.read() as session:
        account = await get_account(session, account_id)
        entries = {e.id: e for e in await list_entries(session, account_id)} if id else {}
    if id and id not in entries:
        raise NotFound(f"account {account_id} has no knowledge entry {id!r}", "entry_not_found", {"id": id})
    entry = entries.get(id)
    values = _values_of(entry) if entry else {"enabled": True}
    return render(request, "knowledge_entry.html", account=account, editing=id, values=values, errors={})


def _values_of(entry: KnowledgeEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.answer,
        "alt": "\n".join(entry.alt_questions),
        "tags": ", ".join(entry.tags),
        "enabled": entry.enabled,
    }


@router.post("/console/knowledge/{account_id}/entry")
async def save_entry(request: Request, account_id: IdPath, viewer: Manager) -> Response:
    data = await form(request, viewer)
    editing = str(data.get("editing") or "")
    values: dict[str, object] = {
        name: str(data.get(name) or "") for name in ("id", "question", "answer", "alt", "tags")
    }
    values["enabled"] = data.get("enabled") == "1"
    if editing:
        values["id"] = editing  # an entry's id is its key: it does not change
    rt = runtime_of(request)
    try:
        entry = check_entry(
            KnowledgeEntry(
                id=str(values["id"]).strip(),
                question=str(values["question"]),
                answer=str(values["answer"]),
                alt_questions=_lines(str(values["alt"])),
                tags=_lines(str(values["tags"]).replace(",", "\n").replace("，", "\n")),
                enabled=bool(values["enabled"]),
            )
        )
        async with rt.db.write() as session:
            account = await get_account(session, account_id)
            existing = {e.id for e in await list_entries(session, account_id)}
            if not editing and entry.id in existing:
                raise KbError(
                    f"id {entry.id!r} is taken by another entry of this account", "id_taken", {"id": entry.id}
                )
            if editing and editing not in existing:
                raise NotFound(
                    f"account {account_id} has no knowledge entry {editing!r}",
                    "entry_not_found",
                    {"id": editing},
                )
            await put_entries(
                session, account_id, [entry], replace=False, now=rt.clock.now(), actor=console_actor(viewer)
            )
    except Invalid as exc:
        async with rt.db.read() as session:
            account = await get_account(session, account_id)
        words = refusal_words(viewer, "knowledge", exc)
        errors = {_field_of(exc.problem): words}
        return render(
            request,
            "knowledge_entry.html",
            422,
            account=account,
            editing=editing,
            values=values,
            errors=errors,
        )
    return redirect(f"/console/knowledge?account={account_id}&saved={entry.id}")


@router.post("/console/knowledge/{account_id}/enabled")
async def toggle_entry(request: Request, account_id: IdPath, viewer: Manager) -> Response:
    data = await form(request, viewer)
    entry_id = str(data.get("id") or "")
    rt = runtime_of(request)
    async with rt.db.write() as session:
        found = [e for e in await list_entries(session, account_id) if e.id == entry_id]
        if not found:
            raise NotFound(
                f"account {account_id} has no knowledge entry {entry_id!r}",
                "entry_not_found",
                {"id": entry_id},
            )
        changed = found[0].model_copy(update={"enabled": data.get("enabled") == "1"})
        await put_entries(
            session, account_id, [changed], replace=False, now=rt.clock.now(), actor=console_actor(viewer)
        )
    return redirect(_back(account_id, data, "enabled" if changed.enabled else "disabled", entry_id))


@router.post("/console/knowledge/{account_id}/delete")
async def remove_entry(request: Request, account_id: IdPath, viewer: Manager) -> Response:
    data = await form(request, viewer)
    entry_id = str(data.get("id") or "")
    rt = runtime_of(request)
    async with rt.db.write() as session:
        await delete_entry(session, account_id, entry_id, actor=console_actor(viewer), now=rt.clock.now())
    return redirect(_back(account_id, data, "deleted", entry_id))


def _back(account_id: int, data: Mapping[str, Any], done: str, entry_id: str) -> str:
    """The list the admin acted from — their search and page kept — saying what was done."""
    page = str(data.get("page") or "")
    query = {
        "account": account_id,
        "q": str(data.get("q") or "")[:200],
        "page": page if page.isdigit() else 1,
    }
    return "/console/knowledge?" + urlencode({**query, done: entry_id})


@router.post("/console/knowledge/{account_id}/import")
async def import_entries(request: Request, account_id: IdPath, viewer: Manager) -> Response:
    data = await form(request, viewer, files=["file"])
    upload = await take_upload(data, "file")
    content = upload.content if upload else b""
    rt = runtime_of(request)
    if not content:
        return await _page(request, account_id, status=422, import_error=viewer.t("knowledge.import_empty"))
    if len(content) > MAX_IMPORT_BYTES:
        return await _page(request, account_id, status=422, import_error=viewer.t("knowledge.import_too_big"))
    try:
        async with rt.db.write() as session:
            await get_account(session, account_id)
            result = await import_csv(
                session,
                account_id,
                content,
                replace=data.get("replace") == "1",
                now=rt.clock.now(),
                actor=console_actor(viewer),
            )
            # Post/Redirect/Get: the result (every bad row too) waits for the redirect's page, so
            # reloading that page shows it again instead of importing the file again.
            key = await leave_notice(
                session, viewer.session_id, IMPORT_RESULT.dump_python(result, mode="json"), real_now()
            )
    except Invalid as exc:  # the file as a whole is unreadable (KbCsvError): nothing was imported
        words = refusal_words(viewer, "knowledge", exc)
        return await _page(request, account_id, status=422, import_error=words)
    return redirect("/console/knowledge?" + urlencode({"account": account_id, "imported": key}))


@router.post("/console/knowledge/{account_id}/ask")
async def try_it(request: Request, account_id: IdPath, viewer: Manager) -> Response:
    """试一试: the answer the built-in AI gives now, its confidence and the closest entries."""
    data = await form(request, viewer)
    question = str(data.get("question") or "").strip()[:500]
    asked = None
    if question:
        async with runtime_of(request).db.read() as session:
            await get_account(session, account_id)
        asked = await ask_knowledge(runtime_of(request), account_id, question)
    if request.headers.get("hx-request"):
        return render(request, "knowledge_answer.html", asked=asked, question=question)
    return await _page(request, account_id, asked=asked, question=question)
