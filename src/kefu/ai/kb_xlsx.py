"""Knowledge base import and export as XLSX (what admins keep their FAQ in), beside CSV.

The first sheet is read like the CSV: a header row (the same column names, Chinese ones too),
then one entry per row; a bad row is reported by its row number and the good rows are kept.
`parse_kb_file` tells the two formats apart by content (an XLSX file is a ZIP archive).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook

from kefu.ai.kb_csv import (
    EXPORT_COLUMNS,
    ImportResult,
    KbCsvError,
    entry_cells,
    parse_kb_csv,
    parse_kb_rows,
)
from kefu.ai.knowledge import KnowledgeEntry
from kefu.spreadsheet import xlsx_append

ZIP_MAGIC = b"PK\x03\x04"


def parse_kb_file(data: bytes) -> ImportResult:
    """An uploaded knowledge base, XLSX or CSV."""
    return parse_kb_xlsx(data) if data.startswith(ZIP_MAGIC) else parse_kb_csv(data)


def parse_kb_xlsx(data: bytes) -> ImportResult:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise KbCsvError(
            f"the file is not a readable XLSX workbook ({type(exc).__name__})", "xlsx_unreadable"
        ) from None
    try:
        return parse_kb_rows(_rows(workbook.worksheets[0]))
    finally:
        workbook.close()


def _rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, [_text(v) for v in values]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 12 as 12.0
    return str(value)


def entries_xlsx(entries: Sequence[KnowledgeEntry]) -> bytes:
    """The entries as an XLSX workbook that `parse_kb_xlsx` reads back."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "knowledge"
    xlsx_append(sheet, EXPORT_COLUMNS)
    for e in entries:
        xlsx_append(sheet, entry_cells(e))  # an answer "=…" stays text
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
