"""Knowledge base CSV import: `id,question,answer[,alt_questions,tags]`, bad rows reported by line.

The file comes from admins, often saved by Excel: UTF-8 with or without a BOM,
GB18030 (Excel's "CSV" on a Chinese Windows) or UTF-16 with its byte-order mark, tab-separated
(Excel's "Unicode text"). Alternative questions and tags
are separated by "|" (also "；" or ";"). A bad row is reported with its line
number and a reason, and every good row is kept.

Each refusal carries a `problem` code and its `values` beside the English reason: the console
words it in the reader's language (`knowledge.problem.<code>`), the CLI and the API show the
reason as it is.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from kefu.ai.knowledge import KnowledgeEntry
from kefu.errors import Invalid
from kefu.schema_types import control_char
from kefu.spreadsheet import plain_cell

if TYPE_CHECKING:  # csv.reader's type, which the csv module does not name
    from _csv import Reader

MAX_ID_CHARS = 64
MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 4000
MAX_TAG_CHARS = 32

REQUIRED_COLUMNS = ("id", "question", "answer")
OPTIONAL_COLUMNS = ("alt_questions", "tags", "enabled")
_TRUE = {"true", "1", "yes", "y", "是", "启用", ""}
_FALSE = {"false", "0", "no", "n", "否", "停用", "禁用"}
# Headers an admin may have typed in Chinese instead.
_HEADER_ALIASES = {
    "编号": "id",
    "问题": "question",
    "标准问题": "question",
    "答案": "answer",
    "回答": "answer",
    "相似问题": "alt_questions",
    "相似问法": "alt_questions",
    "标签": "tags",
    "启用": "enabled",
}
_LIST_SEPARATORS = re.compile(r"[|｜;；]")


class KbError(Invalid):
    """A refusal of an import's rules (the knowledge base's, and the CRM import's, which reuses it):
    the English message, and its `problem` code and `values` for the console's words (every
    DomainError carries them)."""


class KbCsvError(KbError):
    """The file as a whole cannot be read (encoding, header); no row was imported."""


class RowProblem(ValueError):
    """Why a row is refused: a code, its values, and the reason in English."""

    def __init__(self, problem: str, reason: str, **values: str | int) -> None:
        super().__init__(reason)
        self.problem = problem
        self.values = values


class RowError(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int  # 1-based line of the file where the row starts
    reason: str  # in English
    problem: str = ""  # the code of the reason (kb_csv's), "" when the reason has none
    values: dict[str, Any] = {}  # what the reason names (a length, a limit, an id)

    @classmethod
    def of(cls, line: int, exc: ValueError) -> RowError:
        if isinstance(exc, RowProblem):
            return cls(line=line, reason=str(exc), problem=exc.problem, values=dict(exc.values))
        return cls(line=line, reason=str(exc))


class ImportResult(BaseModel):
    entries: list[KnowledgeEntry]
    errors: list[RowError]
    columns: list[str] = []  # the header's columns: an optional one left out keeps stored values


def decode_csv_bytes(data: bytes) -> str:
    """UTF-16 when it starts with UTF-16's byte-order mark (Excel's “Unicode text”; neither UTF-8
    nor GB18030 holds those bytes), else UTF-8 (a BOM is dropped), else GB18030 (Excel's “CSV” on
    a Chinese Windows: what a Chinese admin saves without choosing); anything else is refused,
    naming the line where UTF-8 breaks — the advice is to save as UTF-8, and a UTF-8 file with a
    stray byte is fixed there (GB18030 breaks near the start of any UTF-8 Chinese text, wherever
    the stray byte is)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")  # the mark says the byte order, and is dropped
        except UnicodeDecodeError as exc:
            raise KbCsvError(
                "the file starts as UTF-16 (its byte-order mark) but is not whole UTF-16 "
                "(cut short?); save it from Excel as “CSV UTF-8”",
                "encoding_utf16",
                {"offset": exc.start},
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        not_utf8 = exc.start
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, not_utf8) + 1
        raise KbCsvError(
            f"the file is neither UTF-8 (line {line} holds a byte that is not) nor GB18030; "
            "save it from Excel as “CSV UTF-8”",
            "encoding",
            {"line": line, "offset": not_utf8},
        ) from None


def csv_reader(text: str) -> Reader:
    """The rows of a decoded file: comma-separated, or tab-separated when its header line (the
    first that is not blank) holds a tab and no comma — Excel's “Unicode text” and “Text (tab
    delimited)”; a header of two columns or more needs one or the other."""
    header = next((line for line in io.StringIO(text) if line.strip()), "")
    delimiter = "\t" if "\t" in header and "," not in header else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def parse_kb_csv(data: bytes | str) -> ImportResult:
    text = decode_csv_bytes(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    return parse_kb_rows(_csv_rows(text))


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells); a CSV that breaks off ends with a RowError marker."""
    reader = csv_reader(text)
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (
                line,
                _Unreadable(
                    RowProblem("unreadable", f"unreadable CSV ({exc}); check the quotes", detail=str(exc))
                ),
            )
            return
        yield line, [plain_cell(cell) for cell in row]  # what entries_csv guarded, as it was
        line = reader.line_num + 1


class _Unreadable(list):  # type: ignore[type-arg]
    """A row that could not be read: its reason, and the end of the file."""

    def __init__(self, reason: RowProblem) -> None:
        super().__init__()
        self.reason = reason


def parse_kb_rows(rows: Iterable[tuple[int, list[str]]]) -> ImportResult:
    """Entries from (line number, cells) rows, the first non-blank one the header (CSV or XLSX)."""
    columns: list[str] | None = None
    entries: list[KnowledgeEntry] = []
    errors: list[RowError] = []
    seen_ids: dict[str, int] = {}
    for start, row in rows:
        if isinstance(row, _Unreadable):
            if columns is None:
                raise KbCsvError(f"the header line is not valid CSV ({row.reason})", "header_unreadable")
            errors.append(RowError.of(start, row.reason))
            break
        if not any(cell.strip() for cell in row):
            continue  # blank lines, also Excel's ",,,," ones
        if columns is None:
            columns = _columns(row)
            continue
        if any("\x00" in cell for cell in row):  # PostgreSQL refused the whole import with a 500
            errors.append(RowError.of(start, RowProblem("unstorable", "a cell holds NUL (\\u0000)")))
            continue
        try:
            entry = _entry(row, columns)
        except ValueError as exc:
            errors.append(RowError.of(start, exc))
            continue
        if entry.id in seen_ids:
            first = seen_ids[entry.id]
            duplicate = RowProblem(
                "duplicate_id", f"duplicate id {entry.id!r} (first on line {first})", id=entry.id, first=first
            )
            errors.append(RowError.of(start, duplicate))
            continue
        seen_ids[entry.id] = start
        entries.append(entry)
    if columns is None:
        raise KbCsvError(
            "the file is empty; the first line must be the header id,question,answer[,alt_questions,tags]",
            "empty_file",
        )
    return ImportResult(entries=entries, errors=errors, columns=columns)


def header_cells(header: list[str]) -> list[str]:
    """A header row without the empty cells at its end: Excel pads every row, the header too, to
    the widest row, and those are no columns (a stray cell is its row's problem, not the file's)."""
    return row_cells(header, 0)


def row_cells(row: list[str], width: int) -> list[str]:
    """A row without the empty cells Excel padded it with past `width` (the header's columns)."""
    while len(row) > width and not row[-1].strip():
        row = row[:-1]
    return row


def _columns(header: list[str]) -> list[str]:
    columns = [_HEADER_ALIASES.get(name.strip(), name.strip().lower()) for name in header_cells(header)]
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    unknown = [name for name in columns if name not in known]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if unknown or missing or duplicated:
        problems = [
            *([f"unknown column(s) {', '.join(unknown)}"] if unknown else []),
            *([f"missing column(s) {', '.join(missing)}"] if missing else []),
            *([f"repeated column(s) {', '.join(duplicated)}"] if duplicated else []),
        ]
        raise KbCsvError(
            f"line 1 must be the header id,question,answer[,alt_questions,tags]: {'; '.join(problems)}",
            "bad_header",
            {"unknown": ", ".join(unknown), "missing": ", ".join(missing), "repeated": ", ".join(duplicated)},
        )
    return columns


def _entry(row: list[str], columns: list[str]) -> KnowledgeEntry:
    row = row_cells(row, len(columns))
    if len(row) != len(columns):
        raise RowProblem(
            "columns",
            f"{len(row)} columns where the header has {len(columns)}",
            n=len(row),
            header=len(columns),
        )
    cells = {name: cell.strip() for name, cell in zip(columns, row, strict=True)}
    entry_id, question = cells["id"], _one_line(cells["question"])
    answer = cells["answer"].replace("\r\n", "\n")
    if not entry_id:
        raise RowProblem("id_empty", "id is empty")
    if len(entry_id) > MAX_ID_CHARS:
        raise RowProblem("id_too_long", f"id is longer than {MAX_ID_CHARS} characters", max=MAX_ID_CHARS)
    if not question:
        raise RowProblem("question_empty", "question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise RowProblem(
            "question_too_long",
            f"question is {len(question)} characters; at most {MAX_QUESTION_CHARS}",
            n=len(question),
            max=MAX_QUESTION_CHARS,
        )
    if not answer:
        raise RowProblem("answer_empty", "answer is empty")
    if len(answer) > MAX_ANSWER_CHARS:
        raise RowProblem(
            "answer_too_long",
            f"answer is {len(answer)} characters; at most {MAX_ANSWER_CHARS}",
            n=len(answer),
            max=MAX_ANSWER_CHARS,
        )
    alt_questions = [q for q in _split(cells.get("alt_questions", "")) if q != question]
    for alt in alt_questions:
        if len(alt) > MAX_QUESTION_CHARS:
            raise RowProblem(
                "alt_too_long",
                f"an alternative question is longer than {MAX_QUESTION_CHARS} characters",
                max=MAX_QUESTION_CHARS,
            )
    enabled = cells.get("enabled", "").lower()
    if enabled not in _TRUE | _FALSE:
        raise RowProblem(
            "enabled_invalid",
            f"enabled is {enabled!r}; write true or false (empty means true)",
            value=enabled,
        )
    tags = _split(cells.get("tags", ""))
    for tag in tags:
        if len(tag) > MAX_TAG_CHARS:
            raise RowProblem(
                "tag_too_long",
                f"tag {tag[:10]!r}… is longer than {MAX_TAG_CHARS} characters",
                tag=tag[:10],
                max=MAX_TAG_CHARS,
            )
    for code, what, texts in (
        ("id_control", "id", [entry_id]),
        ("question_control", "question", [question]),
        ("answer_control", "answer", [answer]),
        ("alt_control", "an alternative question", alt_questions),
        ("tag_control", "a tag", tags),
    ):
        if char := next((c for c in map(control_char, texts) if c), None):
            reason = f"{what} holds a control character ({char}) no spreadsheet can hold; remove it"
            raise RowProblem(code, reason, char=char)
    return KnowledgeEntry(
        id=entry_id,
        question=question,
        answer=answer,
        alt_questions=alt_questions,
        tags=tags,
        enabled=enabled in _TRUE,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _split(cell: str) -> list[str]:
    """Items of a list cell, stripped, empty ones dropped, duplicates once."""
    return list(dict.fromkeys(item for part in _LIST_SEPARATORS.split(cell) if (item := _one_line(part))))


EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


def entry_cells(e: KnowledgeEntry) -> list[str]:
    """An entry as the cells of an exported row (EXPORT_COLUMNS), lists joined with "|"."""
    enabled = "true" if e.enabled else "false"
    return [e.id, e.question, e.answer, "|".join(e.alt_questions), "|".join(e.tags), enabled]


def check_entry(entry: KnowledgeEntry) -> KnowledgeEntry:
    """An entry given as a whole (the REST API) checked by the same rules as an imported row."""
    try:
        return _entry(entry_cells(entry), list(EXPORT_COLUMNS))
    except RowProblem as exc:
        raise KbError(str(exc), exc.problem, exc.values) from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def demo_kb_csv() -> bytes:
    """The sample knowledge base shipped for the 青禾家电售后 demo."""
    return resources.files("kefu.ai").joinpath("data/demo_kb.csv").read_bytes()


def load_demo_entries() -> list[KnowledgeEntry]:
    result = parse_kb_csv(demo_kb_csv())
    if result.errors:  # the shipped file is checked by tests; this guards hand edits
        raise KbCsvError(f"the demo knowledge base has bad rows: {result.errors}")
    return result.entries
