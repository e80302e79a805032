"""CSV import of customers and contacts, through the API and `kefu crm import`: each bad line is
reported with its number and reason, the good ones are kept, and importing again changes nothing."""

from __future__ import annotations

import codecs
from pathlib import Path

import httpx
import pytest

from kefu.accounts.models import KfAccount
from kefu.crm.identity import bindings_of, exclusive_servicer, find_wechat_customer, note_wechat_customer
from kefu.crm.service import search_contacts
from kefu.runtime import Runtime
from tests.accounts.fixtures import ACliFn

pytestmark = pytest.mark.db
CRM = "/api/v1/crm"

CUSTOMERS = """external_id,name,phone,tags,exclusive_userid,行业
C-1,青禾家电,021-5555,vip|上海,alice,家电
C-2,,021-6666,,,
C-3,蓝山贸易,,,not a userid!,
C-1,青禾重复,,,,
C-4,白云物流,,物流,,
"""
CONTACTS = """external_id,name,customer_external_id,exclusive_userid,unionid
P-1,王经理,C-1,bob,o6_wang
P-2,李四,C-9,,
P-3,赵六,C-4,,
"P-4,"broken
"""


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_api_import_keeps_good_rows_and_reports_each_bad_line(api: httpx.AsyncClient) -> None:
    answer = await api.post(f"{CRM}/import/customers", content=CUSTOMERS.encode())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (2, 0, 0)
    assert [(e["line"], e["reason"]) for e in result["errors"]] == [
        (3, "name is empty"),
        (4, "exclusive_userid 'not a userid!' is not a WeCom userid (letters, digits, _-.@)"),
        (5, "duplicate external_id (first on line 2)"),
    ]
    assert [(e["problem"], e["values"]) for e in result["errors"]] == [  # the console words these
        ("name_empty", {}),
        ("userid_invalid", {"value": "not a userid!"}),
        ("duplicate_id", {"id": "C-1", "first": 2}),
    ]
    customers = {c["external_id"]: c for c in (await api.get(f"{CRM}/customers")).json()}
    assert customers["C-1"]["tags"] == ["vip", "上海"]
    assert customers["C-1"]["custom_fields"] == {"行业": "家电"}  # an unknown column
    assert customers["C-1"]["exclusive_userid"] == "alice"

    contacts = await api.post(f"{CRM}/import/contacts", content=CONTACTS.encode())
    result = contacts.json()
    assert result["created"] == 2
    assert [(e["line"], e["reason"]) for e in result["errors"]] == [
        (3, "no customer with external_id 'C-9'"),
        (5, "1 columns where the header has 5"),
    ]
    wang = (await api.get(f"{CRM}/contacts", params={"q": "P-1"})).json()[0]
    assert (wang["customer_id"], wang["exclusive_userid"], wang["unionid"]) == (
        customers["C-1"]["id"],
        "bob",
        "o6_wang",
    )

    again = (await api.post(f"{CRM}/import/customers", content=CUSTOMERS.encode())).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    edited = CUSTOMERS.replace("白云物流", "白云快运")
    assert (await api.post(f"{CRM}/import/customers", content=edited.encode())).json()["updated"] == 1

    no_header = await api.post(f"{CRM}/import/customers", content="name,phone\n青禾,1\n".encode())
    assert no_header.status_code == 422
    assert "missing column(s) external_id" in no_header.json()["message"]


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_gb18030_from_excel_is_read(api: httpx.AsyncClient) -> None:
    data = "external_id,名称,专属客服\r\nC-1,青禾家电,alice\r\n".encode("gb18030")
    result = (await api.post(f"{CRM}/import/customers", content=data)).json()
    assert result["created"] == 1 and result["errors"] == []


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_unicode_text_from_excel_is_read(api: httpx.AsyncClient) -> None:
    """Excel's “Unicode text”: UTF-16 after its byte-order mark, tab-separated; it was refused as
    “neither UTF-8 nor GB18030”. Both imports read it."""
    customers = "external_id\t名称\t专属客服\r\nC-1\t青禾家电\talice\r\n"
    data = codecs.BOM_UTF16_LE + customers.encode("utf-16-le")
    result = (await api.post(f"{CRM}/import/customers", content=data)).json()
    assert result["created"] == 1 and result["errors"] == [], result
    contacts = 'external_id\tname\tcustomer_external_id\r\nP-1\t"王经理\t(采购)"\tC-1\r\n'
    data = codecs.BOM_UTF16_BE + contacts.encode("utf-16-be")
    result = (await api.post(f"{CRM}/import/contacts", content=data)).json()
    assert result["created"] == 1 and result["errors"] == [], result
    [wang] = (await api.get(f"{CRM}/contacts", params={"q": "P-1"})).json()
    assert wang["name"] == "王经理\t(采购)"
    broken = (await api.post(f"{CRM}/import/customers", content=codecs.BOM_UTF16_LE + b"e\x00x")).json()
    assert broken["problem"] == "encoding_utf16", broken


async def test_a_header_excel_padded_is_read_and_the_row_with_a_stray_cell_is_refused(
    api: httpx.AsyncClient,
) -> None:
    """Excel saves every row as wide as the widest: the header ends in empty cells, which are no
    columns; the row with the stray note is reported, the others imported."""
    data = "external_id,name,,\r\nC-1,青禾家电,,\r\nC-2,蓝山贸易,,备注\r\n".encode()
    result = (await api.post(f"{CRM}/import/customers", content=data)).json()
    assert result["created"] == 1
    assert [(e["line"], e["reason"]) for e in result["errors"]] == [(3, "4 columns where the header has 2")]


async def test_cli_import_reports_lines_and_exits_1_on_bad_rows(
    acli: ACliFn, rt: Runtime, account: KfAccount, tmp_path: Path
) -> None:
    customers, contacts = tmp_path / "customers.csv", tmp_path / "contacts.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8-sig")
    contacts.write_text(CONTACTS, encoding="utf-8")
    result = await acli("crm", "import", "--customers", str(customers), "--contacts", str(contacts))
    assert result.exit_code == 1, result.output
    assert f"{customers}:3: name is empty (row skipped)" in result.stderr
    assert f"{contacts}:3: no customer with external_id 'C-9' (row skipped)" in result.stderr
    assert "customers: 2 created, 0 updated, 0 unchanged, 3 bad rows" in result.stdout
    assert "contacts: 2 created, 0 updated, 0 unchanged, 2 bad rows" in result.stdout

    listed = await acli("crm", "contacts", "王")
    assert listed.exit_code == 0 and "P-1  王经理" in listed.stdout
    found = await acli("crm", "customers", "--tag", "物流", "--json")
    assert '"白云物流"' in found.stdout

    good = tmp_path / "good.csv"
    good.write_text("external_id,name\nC-9,新客户\n", encoding="utf-8")
    ok = await acli("crm", "import", "--customers", str(good))
    assert ok.exit_code == 0 and "customers: 1 created" in ok.stdout
    nothing = await acli("crm", "import")
    assert nothing.exit_code == 2
    async with rt.db.write() as session:
        await note_wechat_customer(
            session, account.connection_id, "wmNew", now=rt.clock.now(), nickname="小王"
        )
    unbound = await acli("crm", "unbound")
    assert unbound.exit_code == 0 and f"connection {account.connection_id}  wmNew  小王" in unbound.stdout


async def test_cli_binds_unbinds_and_deletes_on_the_record(
    acli: ACliFn, rt: Runtime, account: KfAccount, tmp_path: Path
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("external_id,name,exclusive_userid\nP-1,王经理,bob\n", encoding="utf-8")
    assert (await acli("crm", "import", "--contacts", str(contacts))).exit_code == 0
    connection_id = account.connection_id
    async with rt.db.read() as session:
        (contact,) = await search_contacts(session, q="P-1")

    bound = await acli("crm", "bind", "wmWang", str(contact.id), "--connection", str(connection_id))
    assert bound.exit_code == 0 and "wmWang: bound" in bound.stdout, bound.output
    async with rt.db.read() as session:
        assert await session.run_sync(exclusive_servicer, connection_id, "wmWang") == "bob"
    again = await acli("crm", "bind", "wmWang", "999", "--connection", str(connection_id))
    assert again.exit_code == 2 and "no contact" in again.stderr

    assert (await acli("crm", "unbind", "wmWang", "--connection", str(connection_id))).exit_code == 0
    twice = await acli("crm", "unbind", "wmWang", "--connection", str(connection_id))
    assert twice.exit_code == 2 and "not bound" in twice.stderr
    unknown = await acli("crm", "unbind", "wmNobody", "--connection", str(connection_id))
    assert unknown.exit_code == 2 and "no WeChat customer wmNobody" in unknown.stderr

    assert (
        await acli("crm", "bind", "wmWang", str(contact.id), "--connection", str(connection_id))
    ).exit_code == 0
    deleted = await acli("crm", "delete", "contact", str(contact.id))
    assert deleted.exit_code == 0, deleted.output
    async with rt.db.read() as session:
        history = await bindings_of(
            session, (await find_wechat_customer(session, connection_id, "wmWang")).id
        )  # type: ignore[union-attr]
        assert [(b.action, b.by) for b in history] == [
            ("bind", "cli"),
            ("unbind", "cli"),
            ("bind", "cli"),
            ("unbind", "cli"),
        ]
        assert await session.run_sync(exclusive_servicer, connection_id, "wmWang") is None
    assert (await acli("crm", "delete", "team", "1")).exit_code == 2
