"""Knowledge base exports opened in Excel or WPS: a cell starting with =, +, -, @, a tab or a
carriage return never becomes a formula (OWASP: CSV cells get a leading quote, XLSX cells stay
text), and Kefu's own export imported back keeps every value exactly as it was."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import update

from kefu.accounts.models import KfAccount, KnowledgeEntryRow
from kefu.runtime import Runtime
from kefu.spreadsheet import csv_cell, plain_cell, xlsx_append
from tests.factories import api_client, make_account, make_connection

pytestmark = pytest.mark.db
HOSTILE = [
    {"id": "f1", "question": "=1+2", "answer": '=HYPERLINK("http://evil.example","点我")', "tags": ["@x"]},
    {"id": "f2", "question": "客服电话", "answer": "+86 138 0000 0000", "alt_questions": ["-减号开头"]},
    {"id": "f3", "question": "引号", "answer": "'=已加引号", "alt_questions": ["''+两个引号"]},
    {"id": "f4", "question": "@SUM(A1)", "answer": "- 第一步：登录\n- 第二步：下单"},
    {"id": "f5", "question": "普通问题", "answer": "'普通引号开头"},
]
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
async def base(rt: Runtime) -> str:
    connection, _ = await make_connection(rt)
    account: KfAccount = await make_account(rt, connection)
    return f"/api/v1/accounts/{account.id}/knowledge"


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt) as client:
        yield client


async def _stored(api: httpx.AsyncClient, base: str) -> list[dict[str, object]]:
    return sorted((await api.get(base)).json(), key=lambda e: str(e["id"]))


async def test_csv_export_cells_are_no_formulas_and_import_back_unchanged(
    api: httpx.AsyncClient, base: str
) -> None:
    for entry in HOSTILE:
        assert (await api.post(base, json=entry)).status_code == 201
    before = await _stored(api, base)
    exported = await api.get(f"{base}/export")
    cells = [cell for row in csv.reader(io.StringIO(exported.text)) for cell in row]
    assert "'=1+2" in cells and "'+86 138 0000 0000" in cells and "'@SUM(A1)" in cells
    assert [c for c in cells if c.startswith(FORMULA)] == []
    assert "'普通引号开头" in cells  # a quote before plain text is the text itself
    again = await api.post(f"{base}/import?replace=true", content=exported.content)
    assert again.status_code == 200 and again.json()["errors"] == [], again.text
    assert await _stored(api, base) == before


async def test_xlsx_export_cells_are_text_and_import_back_unchanged(
    api: httpx.AsyncClient, base: str
) -> None:
    for entry in HOSTILE:
        assert (await api.post(base, json=entry)).status_code == 201
    before = await _stored(api, base)
    exported = await api.get(f"{base}/export", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(exported.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.value for c in cells if c.data_type == "f"] == []  # openpyxl made "=…" a formula
    assert '=HYPERLINK("http://evil.example","点我")' in [c.value for c in cells]
    again = await api.post(f"{base}/import?replace=true", content=exported.content)
    assert again.status_code == 200 and again.json()["errors"] == [], again.text
    assert await _stored(api, base) == before


@pytest.mark.parametrize("text", ["=1", "+86", "-", "@a", "\tx", "\rx", "'=1", "''-", "'", "'a", "a=1", ""])
def test_the_guard_is_undone_exactly(text: str) -> None:
    written = csv_cell(text)
    assert isinstance(written, str) and not written.startswith(FORMULA)
    assert plain_cell(written) == text


def test_exactly_what_a_worksheet_cannot_hold_is_dropped() -> None:
    text = "".join(map(chr, range(32))) + "末\x7f"
    sheet = Workbook().active
    xlsx_append(sheet, [text, 1])
    assert sheet["A1"].value == ILLEGAL_CHARACTERS_RE.sub("", text) == "\t\n\r末\x7f"
    assert (sheet["A1"].data_type, sheet["B1"].value) == ("s", 1)


async def test_a_control_character_a_worksheet_cannot_hold_is_refused_at_every_door(
    api: httpx.AsyncClient, base: str
) -> None:
    """A vertical tab (Word's line break, pasted) in an answer was stored, and every XLSX export of
    the knowledge base then failed with a 500 (openpyxl refuses it): it is refused where it
    comes in, beside its column, and the export keeps working."""
    entry = {"id": "v1", "question": "保修多久", "answer": "整机三年\u000b主板五年"}
    refused = await api.post(base, json=entry)
    assert refused.status_code == 422, refused.text
    assert (refused.json()["problem"], refused.json()["values"]) == ("answer_control", {"char": "\\x0b"})
    assert (await api.put(f"{base}/v1", json={**entry, "answer": "三年", "tags": ["售\x1b后"]})).json()[
        "problem"
    ] == "tag_control"
    rows = "id,question,answer\nv1,保修\x07多久,三年\nv2,发票,可以开\n"
    imported = (await api.post(f"{base}/import", content=rows.encode())).json()
    assert [(e["line"], e["problem"]) for e in imported["errors"]] == [(2, "question_control")]
    assert [e["id"] for e in await _stored(api, base)] == ["v2"]
    assert (await api.get(f"{base}/export", params={"format": "xlsx"})).status_code == 200


async def test_an_entry_stored_before_the_control_character_check_still_exports_as_xlsx(
    rt: Runtime, api: httpx.AsyncClient, base: str
) -> None:
    """Refusing the character where it comes in leaves the entries stored before (an upgrade
    keeps them): their workbook must not fail with a 500 either; the character is dropped."""
    assert (
        await api.post(base, json={"id": "v1", "question": "保修多久", "answer": "三年"})
    ).status_code == 201
    async with rt.db.write() as session:
        await session.execute(update(KnowledgeEntryRow).values(answer="整机三年\x0b主板五年"))
    exported = await api.get(f"{base}/export", params={"format": "xlsx"})
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.content)).active
    assert "整机三年主板五年" in [cell.value for row in sheet.iter_rows() for cell in row]


async def test_an_entry_stored_before_the_control_character_check_exports_as_csv_that_imports_back(
    rt: Runtime, api: httpx.AsyncClient, base: str
) -> None:
    """The CSV export wrote the stored control character, and the import then refused its own
    file (answer_control): the export drops it, as the workbook does — it is invisible in a
    message — so the file imports back, every visible character kept."""
    assert (
        await api.post(base, json={"id": "v1", "question": "保修多久", "answer": "三年", "tags": ["售后"]})
    ).status_code == 201
    async with rt.db.write() as session:
        await session.execute(
            update(KnowledgeEntryRow).values(answer="=整机三年\x0b主板五年\x1b", tags=["售\x07后"])
        )
    exported = await api.get(f"{base}/export")
    assert exported.status_code == 200 and "'=整机三年主板五年," in exported.text
    again = await api.post(f"{base}/import", content=exported.content)
    assert again.status_code == 200 and again.json()["errors"] == [], again.text
    [entry] = await _stored(api, base)
    assert (entry["answer"], entry["tags"]) == ("=整机三年主板五年", ["售后"])
