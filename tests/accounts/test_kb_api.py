"""/api/v1/accounts/{id}/knowledge through the real ASGI app: CRUD, import of CSV and XLSX with
bad rows (each reported, good rows kept), export, disabled entries, and the answerer following
every change without a restart."""

from __future__ import annotations

import codecs
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from openpyxl import Workbook

from kefu.accounts.knowledge_provider import provider_for_account
from kefu.accounts.models import KfAccount
from kefu.ai.kb_xlsx import parse_kb_xlsx
from kefu.runtime import Runtime
from tests.factories import api_client, make_account, make_connection

pytestmark = pytest.mark.db


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    return await make_account(rt, connection)


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt, token_name="console-alice") as client:
        yield client


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_crud_and_the_answerer_follows_each_change(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    base = f"/api/v1/accounts/{account.id}/knowledge"
    entry = {
        "id": "refund",
        "question": "怎么申请退款",
        "answer": "订单页点申请退款。",
        "alt_questions": ["能退钱吗"],
    }
    created = await api.post(base, json=entry)
    assert created.status_code == 201, created.text
    assert (await api.post(base, json=entry)).status_code == 409
    assert (await api.get(f"{base}/refund")).json()["alt_questions"] == ["能退钱吗"]
    provider = await provider_for_account(rt, account.id)
    assert provider.answer_now("怎么申请退款").entry.id == "refund"

    changed = await api.put(
        f"{base}/refund", json={"question": "怎么申请退款", "answer": "1-3个工作日原路退回。"}
    )
    assert changed.status_code == 200
    provider = await provider_for_account(rt, account.id)
    assert provider.answer_now("怎么申请退款").text == "1-3个工作日原路退回。"

    await api.put(f"{base}/refund", json={"question": "怎么申请退款", "answer": "x", "enabled": False})
    provider = await provider_for_account(rt, account.id)
    assert provider.answer_now("怎么申请退款").not_sure  # kept, but never answers
    assert [e["enabled"] for e in (await api.get(base)).json()] == [False]

    assert (await api.delete(f"{base}/refund")).status_code == 204
    assert (await api.get(f"{base}/refund")).status_code == 404
    assert (await api.delete(f"{base}/refund")).status_code == 404
    bad = await api.put(f"{base}/x", json={"question": "", "answer": "a"})
    assert bad.status_code in (400, 422) and "question is empty" in bad.text


async def test_import_csv_and_xlsx_keep_good_rows_and_report_each_bad_one(
    api: httpx.AsyncClient, account: KfAccount
) -> None:
    base = f"/api/v1/accounts/{account.id}/knowledge"
    csv_file = (
        "id,question,answer,alt_questions,tags,enabled\n"
        "warranty,保修多久,整机保修一年。,质保多久,保修,\n"
        "bad-1,,没有问题,,,\n"
        "invoice,怎么开发票,订单详情页申请。,,,true\n"
        "bad-2,问题,答案,,,maybe\n"
    ).encode()
    result = (await api.post(f"{base}/import", content=csv_file)).json()
    assert result["added"] == ["warranty", "invoice"]
    assert [(e["line"], e["reason"]) for e in result["errors"]] == [
        (3, "question is empty"),
        (5, "enabled is 'maybe'; write true or false (empty means true)"),
    ]
    workbook = xlsx(
        [
            ["编号", "问题", "答案", "相似问题"],
            ["warranty", "保修多久", "整机保修两年。", "质保多久"],
            ["dup", "重复", "a"],
            ["dup", "重复", "b"],
            ["delivery", "多久发货", 48],
        ]
    )
    result = (await api.post(f"{base}/import", content=workbook)).json()
    assert (result["added"], result["changed"]) == (["dup", "delivery"], ["warranty"])
    assert [(e["line"], e["reason"]) for e in result["errors"]] == [
        (4, "duplicate id 'dup' (first on line 3)")
    ]
    assert (await api.get(f"{base}/delivery")).json()["answer"] == "48"  # Excel's number, as text

    exported = await api.get(f"{base}/export", params={"format": "xlsx"})
    assert exported.status_code == 200
    assert {e.id for e in parse_kb_xlsx(exported.content).entries} == {
        "warranty",
        "invoice",
        "dup",
        "delivery",
    }
    as_csv = (await api.get(f"{base}/export")).text
    assert as_csv.startswith("id,question,answer,alt_questions,tags,enabled\n")
    broken = await api.post(f"{base}/import", content=b"PK\x03\x04 not really a workbook")
    assert broken.status_code in (400, 422) and "XLSX" in broken.text


async def test_unicode_text_from_excel_is_imported(api: httpx.AsyncClient, account: KfAccount) -> None:
    """Excel's “Unicode text” (UTF-16 after its byte-order mark, tab-separated), with a bad row
    reported by its line as in any CSV."""
    base = f"/api/v1/accounts/{account.id}/knowledge"
    table = "编号\t问题\t答案\r\nwarranty\t保修多久\t整机保修一年。\r\nbad\t\t没有问题\r\n"
    result = (
        await api.post(f"{base}/import", content=codecs.BOM_UTF16_LE + table.encode("utf-16-le"))
    ).json()
    assert result["added"] == ["warranty"], result
    assert [(e["line"], e["problem"]) for e in result["errors"]] == [(3, "question_empty")]
    assert (await api.get(f"{base}/warranty")).json()["answer"] == "整机保修一年。"
