"""Text cells of the CSV and XLSX files Kefu writes, safe to open in Excel or WPS (formula injection).

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by a spreadsheet
as a formula (`=HYPERLINK(...)`, `+86 138…` shown as #NAME?), so the writer puts a single quote
before it, as OWASP advises; Excel shows the text, not a formula. Kefu's own importers take the
quote off again (`plain_cell`), so an export imported back keeps every value as it was. The rule
is exact both ways: a cell that already starts with quotes before such a character gets one more
quote on the way out, and loses exactly one on the way in.

In an XLSX file the cell's type says what it is: openpyxl makes any text starting with "=" a
formula cell, so `xlsx_append` stores text as text (no quote: the cell reads exactly as written).
A worksheet cannot hold most control characters at all (openpyxl refuses the row): text stored
before Kefu's inputs refused them would fail the whole export, so `xlsx_append` drops them —
every workbook Kefu writes goes through it. `csv_cell` drops the same ones: a CSV could hold
them, but Kefu's importers refuse them (kefu.schema_types.control_char), and a file Kefu wrote
must import back; they are invisible in a message, so no visible text is lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def csv_cell(value: object) -> object:
    """A cell as written: without the control characters a worksheet cannot hold, and text a
    spreadsheet would take for a formula with a leading quote."""
    if not isinstance(value, str):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + text if _FORMULA_START.match(text) else text


def plain_cell(text: str) -> str:
    """A cell as read back: the quote `csv_cell` added taken off; any other text unchanged."""
    if text.startswith("'") and _FORMULA_START.match(text, 1):
        return text[1:]
    return text


def xlsx_append(sheet: Any, values: Iterable[object]) -> None:
    """A row appended to an openpyxl sheet, its text kept as text ("=HYPERLINK(...)" would
    otherwise be written as a formula, run in Excel, and read back as its result) and without the
    control characters no worksheet can hold."""
    row = [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]
    sheet.append(row)
    for column, value in enumerate(row, start=1):
        if isinstance(value, str):
            sheet.cell(sheet.max_row, column).data_type = "s"
