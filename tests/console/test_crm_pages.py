"""客户 and 联系人 pages: a card created and edited (a bad value shown beside its field, nothing
saved), a contact's page with its bound WeChat customer and conversation, a CSV import with a
bad row reported and the good ones kept, every change audited."""

from __future__ import annotations

from sqlalchemy import select

from kefu.audit.log import list_events
from kefu.crm.identity import bind, note_wechat_customer
from kefu.crm.models import CrmContact, CrmCustomer
from kefu.reception.models import Conversation
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import make_account, make_connection


async def test_a_supervisor_creates_and_edits_a_customer(rt: Runtime, signed_in: SignIn) -> None:
    supervisor = await signed_in("supervisor")
    page = await supervisor.get("/console/crm/customers/new")
    assert page.status_code == 200 and "新建客户" in page.text
    csrf = csrf_of(page)
    bad = await supervisor.post(
        "/console/crm/customers", data={"csrf_token": csrf, "name": "", "phone": "021-1234"}
    )
    assert bad.status_code == 422 and "field-error" in bad.text and 'value="021-1234"' in bad.text
    async with rt.db.read() as session:
        assert (await session.scalars(select(CrmCustomer))).all() == []
    made = await supervisor.post(
        "/console/crm/customers",
        data={"csrf_token": csrf, "name": "青禾家电", "external_id": "C-1", "tags": "VIP, 华东"},
    )
    assert made.status_code == 303
    card = await supervisor.get(made.headers["location"])
    assert card.status_code == 200 and 'value="青禾家电"' in card.text and "已保存" in card.text
    customer_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    taken = await supervisor.post(
        "/console/crm/customers", data={"csrf_token": csrf, "name": "别家", "external_id": "C-1"}
    )
    assert taken.status_code == 422 and "already has external_id" in taken.text
    edited = await supervisor.post(
        f"/console/crm/customers/{customer_id}",
        data={"csrf_token": csrf, "name": "青禾家电售后", "external_id": "C-1", "tags": "VIP, 华东"},
    )
    assert edited.status_code == 303
    empty_name = await supervisor.post(
        f"/console/crm/customers/{customer_id}", data={"csrf_token": csrf, "name": "", "external_id": "C-1"}
    )
    assert empty_name.status_code == 422 and "field-error" in empty_name.text
    listed = await supervisor.get("/console/crm/customers?q=青禾")
    assert "青禾家电售后" in listed.text
    async with rt.db.read() as session:
        events, _ = await list_events(session, target=f"crm.customer:{customer_id}")
    assert [e.action for e in events] == ["crm.customer.update", "crm.customer.create"]
    assert (
        events[0].changes == {"name": ["青禾家电", "青禾家电售后"]}
        and events[0].actor == "console:supervisor0"
    )


async def test_a_contact_page_shows_its_wechat_customers_and_conversations(
    rt: Runtime, signed_in: SignIn
) -> None:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    now = rt.clock.now()
    async with rt.db.write() as session:
        company = CrmCustomer(name="青禾家电", external_id="C-1", created_at=now, updated_at=now)
        contact = CrmContact(name="王小明", phone="13800000000", created_at=now, updated_at=now)
        session.add_all([company, contact])
        await session.flush()
        contact.customer_id = company.id
        wechat = await note_wechat_customer(session, connection.id, "wmCustomer01", now=now, nickname="小明")
        await bind(session, wechat.id, contact.id, by="cli", now=now)
        conversation = Conversation(
            account_id=account.id,
            external_userid="wmCustomer01",
            last_message_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(conversation)
        await session.flush()
        contact_id, conversation_id, company_id = contact.id, conversation.id, company.id
    admin = await signed_in("admin")
    page = await admin.get(f"/console/crm/contacts/{contact_id}")
    assert page.status_code == 200
    assert "小明" in page.text and f"/console/conversations/{conversation_id}" in page.text
    assert "测试客服" in page.text and f"/console/crm/customers/{company_id}" in page.text
    company_page = await admin.get(f"/console/crm/customers/{company_id}")
    assert "王小明" in company_page.text


async def test_a_contacts_import_keeps_good_rows_and_reports_the_bad_one(
    rt: Runtime, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/crm/contacts"))
    content = "external_id,name,phone,email\nP-1,张三,138,\nP-2,,139,\nP-3,李四,,li@example.com\n"
    answer = await admin.post(
        "/console/crm/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("contacts.csv", content.encode(), "text/csv")},
    )
    assert answer.status_code == 200 and "新建 2 条" in answer.text and "第 3 行" in answer.text
    async with rt.db.read() as session:
        names = (await session.scalars(select(CrmContact.name).order_by(CrmContact.id))).all()
        events, total = await list_events(session, actor="console:admin0")
    assert names == ["张三", "李四"] and total == 2
    assert {e.action for e in events} == {"crm.contact.create"}


async def test_servicers_cannot_open_the_crm(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    assert (await servicer.get("/console/crm/contacts")).status_code == 403
