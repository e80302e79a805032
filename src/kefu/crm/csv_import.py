"""CSV import of customers and contacts (`kefu crm import`, `POST /api/v1/crm/import/…`).

Each row is upserted by its `external_id` (so importing the same file twice changes nothing);
contacts name their company by `customer_external_id`, the exclusive servicer is a WeCom userid.
A bad row is reported with its line and reason and every good row is kept. Columns other than
the known ones go into the card's custom fields (empty cells are left out). Lists (tags) are
separated by "|" (also "；" or ";"). UTF-8 with or without a BOM, GB18030 or UTF-16 (Excel's
"Unicode text", tab-separated): kefu.ai.kb_csv reads them.

Each refusal carries a `problem` code and its `values` beside the English reason, as the
knowledge base import's do (kefu.ai.kb_csv's `RowProblem`/`RowError`/`KbError`): the console
words it in the reader's language (`crm.problem.<code>`), the CLI and the API show the reason.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.ai.kb_csv import (
    KbCsvError,
    KbError,
    RowError,
    RowProblem,
    csv_reader,
    decode_csv_bytes,
    header_cells,
    row_cells,
)
from kefu.crm.schemas import ContactIn, CustomerIn, card_problems
from kefu.crm.service import upsert_contact, upsert_customer
from kefu.errors import DomainError

CARD_COLUMNS = ("external_id", "name", "phone", "email", "tags", "notes", "exclusive_userid")
CUSTOMER_COLUMNS = CARD_COLUMNS
CONTACT_COLUMNS = (*CARD_COLUMNS, "customer_external_id", "unionid")
_ALIASES = {
    "编号": "external_id",
    "名称": "name",
    "姓名": "name",
    "电话": "phone",
    "手机": "phone",
    "邮箱": "email",
    "标签": "tags",
    "备注": "notes",
    "专属客服": "exclusive_userid",
    "公司编号": "customer_external_id",
}
_LIST_SEPARATORS = re.compile(r"[|｜;；]")
# A WeCom userid: letters, digits and _ - . @, at most 64 (WeCom's own rule).
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class CrmCsvError(KbError):
    """The file as a whole cannot be read (encoding, header): nothing of it was imported."""


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class CrmImport:
    customers: Counts = field(default_factory=Counts)
    contacts: Counts = field(default_factory=Counts)
    customer_errors: list[RowError] = field(default_factory=list)
    contact_errors: list[RowError] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return len(self.customer_errors) + len(self.contact_errors)


async def import_files(
    session: AsyncSession,
    *,
    customers: bytes | None,
    contacts: bytes | None,
    now: datetime,
    actor: str | None = None,
) -> CrmImport:
    """Customers first, so that the contacts of the same import can name them."""
    result = CrmImport()
    # Both files are read before anything is written: a file that cannot be read imports nothing.
    files = [
        (list(_rows(data, columns, kind)), model, counts, errors)
        for data, columns, kind, model, counts, errors in (
            (customers, CUSTOMER_COLUMNS, "customers", CustomerIn, result.customers, result.customer_errors),
            (contacts, CONTACT_COLUMNS, "contacts", ContactIn, result.contacts, result.contact_errors),
        )
        if data is not None
    ]
    for rows, model, counts, errors in files:
        seen: dict[str, int] = {}
        for line, cells in rows:
            if isinstance(cells, dict) and cells.get("external_id") in seen:
                first = seen[cells["external_id"]]
                duplicate = RowProblem(
                    "duplicate_id",
                    f"duplicate external_id (first on line {first})",
                    id=cells["external_id"],
                    first=first,
                )
                errors.append(RowError.of(line, duplicate))
                continue
            if await _one(session, line, cells, model, counts, errors, now, actor) and isinstance(
                cells, dict
            ):
                seen[cells["external_id"]] = line
    return result


async def _one(
    session: AsyncSession,
    line: int,
    cells: dict[str, str] | RowProblem,
    model: type[CustomerIn] | type[ContactIn],
    counts: Counts,
    errors: list[RowError],
    now: datetime,
    actor: str | None,
) -> bool:
    """Upsert one row; False (and the reason kept) when it is bad."""
    if isinstance(cells, RowProblem):
        errors.append(RowError.of(line, cells))
        return False
    try:
        body = _card(cells, model)
        if isinstance(body, ContactIn):
            _, done = await upsert_contact(session, cells["external_id"], body, now=now, actor=actor)
        else:
            _, done = await upsert_customer(session, cells["external_id"], body, now=now, actor=actor)
    except (ValueError, DomainError) as exc:
        errors.append(RowError.of(line, _problem(exc)))
        return False
    setattr(counts, done, getattr(counts, done) + 1)
    return True


def _card(cells: dict[str, str], model: type[CustomerIn] | type[ContactIn]) -> CustomerIn | ContactIn:
    if not cells.get("external_id"):
        raise RowProblem("external_id_empty", "external_id is empty (rows are matched by it)")
    if not cells.get("name"):
        raise RowProblem("name_empty", "name is empty")
    userid = cells.get("exclusive_userid", "")
    if userid and not _USERID.match(userid):
        raise RowProblem(
            "userid_invalid",
            f"exclusive_userid {userid!r} is not a WeCom userid (letters, digits, _-.@)",
            value=userid,
        )
    known = CONTACT_COLUMNS if model is ContactIn else CUSTOMER_COLUMNS
    values: dict[str, Any] = {k: v for k, v in cells.items() if k in known and k != "tags" and v}
    values["tags"] = [t.strip() for t in _LIST_SEPARATORS.split(cells.get("tags", "")) if t.strip()]
    values["custom_fields"] = {k: v for k, v in cells.items() if k not in known and v}
    return model.model_validate(values)


def _problem(exc: ValueError | DomainError) -> ValueError:
    """A refused row's reason: a cell too long, a phone or an email that is not one, and a
    service's coded refusal (a contact's company that does not exist) keep their code; anything
    else keeps its own words."""
    if isinstance(exc, ValidationError):
        first = card_problems(exc)[0]
        if first.problem == "too_long":
            return RowProblem("too_long", first.reason, column=first.field, max=first.values["max"])
        return ValueError(first.reason)
    if isinstance(exc, DomainError):
        return RowProblem(exc.problem, exc.message, **exc.values) if exc.problem else ValueError(exc.message)
    return exc


def _rows(
    data: bytes, known: tuple[str, ...], kind: str
) -> Iterator[tuple[int, dict[str, str] | RowProblem]]:
    """(line, cells by column) per non-blank row after the header, or why the row is bad."""
    try:
        text = decode_csv_bytes(data)
    except KbCsvError as exc:
        raise CrmCsvError(f"{kind}: {exc.message}", exc.problem, exc.values) from None
    reader = csv_reader(text)
    columns: list[str] | None = None
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if columns is None:
                raise CrmCsvError(
                    f"{kind}: the header line is not valid CSV ({exc})", "header_unreadable"
                ) from None
            yield line, RowProblem("unreadable", f"unreadable CSV ({exc}); check the quotes", detail=str(exc))
            return
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if columns is None:
            columns = _header(row, known, kind)
            continue
        row = row_cells(row, len(columns))
        if any("\x00" in cell for cell in row):  # PostgreSQL refused the whole import with a 500
            yield start, RowProblem("unstorable", "a cell holds NUL (\\u0000)")
            continue
        if len(row) != len(columns):
            yield (
                start,
                RowProblem(
                    "columns",
                    f"{len(row)} columns where the header has {len(columns)}",
                    n=len(row),
                    header=len(columns),
                ),
            )
            continue
        yield start, {name: cell.strip() for name, cell in zip(columns, row, strict=True)}
    if columns is None:
        raise CrmCsvError(
            f"{kind}: the file is empty; the first line must be the header",
            "empty_file",
            {"columns": ",".join(known)},
        )


def _header(row: list[str], known: tuple[str, ...], kind: str) -> list[str]:
    columns = [_ALIASES.get(name.strip(), name.strip()) for name in header_cells(row)]
    missing = [name for name in ("external_id", "name") if name not in columns]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or repeated or "" in columns:
        problems = [
            *([f"missing column(s) {', '.join(missing)}"] if missing else []),
            *([f"repeated column(s) {', '.join(repeated)}"] if repeated else []),
            *(["a column without a name"] if "" in columns else []),
        ]
        raise CrmCsvError(
            f"{kind}: line 1 must be the header ({', '.join(known)}): {'; '.join(problems)}",
            "bad_header",
            {
                "columns": ",".join(known),
                "missing": ", ".join(missing),
                "repeated": ", ".join(repeated),
                "unnamed": columns.count(""),
            },
        )
    return columns
