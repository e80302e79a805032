"""REST: /api/v1/accounts/{id}/knowledge — an account's knowledge base: entries, import, export.

Every write goes through `put_entries`, which stamps the rows: the (count, newest stamp)
fingerprint changes, and every process rebuilds its index on its next answer (no restart).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from kefu.accounts.knowledge_base import delete_entry, entries_csv, import_csv, list_entries, put_entries
from kefu.accounts.settings import get_account
from kefu.ai.kb_csv import RowError, check_entry
from kefu.ai.kb_xlsx import entries_xlsx
from kefu.ai.knowledge import KnowledgeEntry
from kefu.api.auth import api_actor, require_token
from kefu.api.body_limit import MAX_IMPORT_BYTES
from kefu.api.deps import IdPath, RuntimeDep, TokenDep
from kefu.api.routes import ApiRoute
from kefu.errors import Conflict, Invalid, NotFound

router = APIRouter(
    prefix="/accounts/{account_id}/knowledge",
    tags=["knowledge"],
    route_class=ApiRoute,
    dependencies=[Depends(require_token)],
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class EntryBody(BaseModel):
    """An entry without its id (the path has it)."""

    question: str
    answer: str
    alt_questions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True


class ImportOut(BaseModel):
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    errors: list[RowError]
    removal_skipped: bool


async def _entries(rt: RuntimeDep, account_id: int) -> list[KnowledgeEntry]:
    async with rt.db.read() as session:
        await get_account(session, account_id)
        return await list_entries(session, account_id)


@router.get("", response_model=list[KnowledgeEntry])
async def list_knowledge(account_id: IdPath, rt: RuntimeDep) -> list[KnowledgeEntry]:
    return await _entries(rt, account_id)


@router.post("", response_model=KnowledgeEntry, status_code=201)
async def create_entry(
    account_id: IdPath, body: KnowledgeEntry, rt: RuntimeDep, token: TokenDep
) -> KnowledgeEntry:
    entry = check_entry(body)
    async with rt.db.write() as session:
        if any(e.id == entry.id for e in await list_entries(session, account_id)):
            raise Conflict(f"account {account_id} already has a knowledge entry {entry.id!r}; PUT changes it")
        await put_entries(
            session, account_id, [entry], replace=False, now=rt.clock.now(), actor=api_actor(token)
        )
    return entry


@router.get("/export")
async def export_knowledge(
    account_id: IdPath, rt: RuntimeDep, format: Annotated[Literal["csv", "xlsx"], Query()] = "csv"
) -> Response:
    entries = await _entries(rt, account_id)
    if format == "xlsx":
        return Response(entries_xlsx(entries), media_type=XLSX_TYPE)
    return Response(entries_csv(entries).encode(), media_type="text/csv; charset=utf-8")


@router.post("/import", response_model=ImportOut)
async def import_knowledge(
    account_id: IdPath, request: Request, rt: RuntimeDep, token: TokenDep, replace: bool = False
) -> ImportOut:
    """The request body is the file itself, CSV or XLSX. Good rows are kept, each bad one is
    reported with its line (CSV) or row (XLSX) and reason; `replace` removes entries the file
    does not have, unless a row is bad."""
    data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    async with rt.db.write() as session:
        await get_account(session, account_id)
        result = await import_csv(
            session, account_id, data, replace=replace, now=rt.clock.now(), actor=api_actor(token)
        )
    changes = result.changes
    return ImportOut(
        added=changes.added,
        changed=changes.changed,
        removed=changes.removed,
        unchanged=changes.unchanged,
        errors=result.errors,
        removal_skipped=result.removal_skipped,
    )


@router.get("/{entry_id}", response_model=KnowledgeEntry)
async def get_entry(account_id: IdPath, entry_id: str, rt: RuntimeDep) -> KnowledgeEntry:
    for entry in await _entries(rt, account_id):
        if entry.id == entry_id:
            return entry
    raise NotFound(f"account {account_id} has no knowledge entry {entry_id!r}")


@router.put("/{entry_id}", response_model=KnowledgeEntry)
async def put_entry(
    account_id: IdPath,
    entry_id: str,
    rt: RuntimeDep,
    token: TokenDep,
    body: Annotated[EntryBody, Body()],
) -> KnowledgeEntry:
    """Create or replace the entry."""
    entry = check_entry(KnowledgeEntry(id=entry_id, **body.model_dump()))
    async with rt.db.write() as session:
        await put_entries(
            session, account_id, [entry], replace=False, now=rt.clock.now(), actor=api_actor(token)
        )
    return entry


@router.delete("/{entry_id}", status_code=204)
async def delete_knowledge_entry(
    account_id: IdPath, entry_id: str, rt: RuntimeDep, token: TokenDep
) -> Response:
    async with rt.db.write() as session:
        await delete_entry(session, account_id, entry_id, actor=api_actor(token), now=rt.clock.now())
    return Response(status_code=204)
