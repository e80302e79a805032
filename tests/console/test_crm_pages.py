"""客户 and 联系人 pages: a card created and edited (a bad value shown beside its field, nothing
saved), a contact's page with its bound WeChat customer and conversation, a CSV import with a
bad row reported and the good ones kept, every change audited."""

from __future__ import annotations

import codecs
import html
import re

from httpx import Response
from sqlalchemy import select

from kefu.audit.log import list_events
from kefu.crm.identity import bind, note_wechat_customer
from kefu.crm.models import CrmContact, CrmCustomer
from kefu.reception.models import Conversation
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of
from tests.factories import add_servicers, make_account, make_connection


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
    listed = (await supervisor.get("/console/crm/customers")).text  # headers, not the form's hints
    assert "<th>编号</th>" in listed and "<th>标签</th>" in listed and "<th>专属客服</th>" in listed
    assert "逗号分隔" not in listed.split("<tbody>")[0]
    taken = await supervisor.post(
        "/console/crm/customers", data={"csrf_token": csrf, "name": "别家", "external_id": "C-1"}
    )
    assert taken.status_code == 422 and "编号“C-1”已被“青禾家电”使用" in taken.text
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


def refusals(page: Response) -> list[str]:
    """What a page says went wrong: the words beside each field, or the error page's."""
    found = re.findall(
        r'class="error-text">(.*?)</div>|<div class="card empty"><h1>.*?</h1><p>(.*?)</p>', page.text
    )
    return [html.unescape("".join(parts)) for parts in found]


async def test_a_card_forms_refusals_are_in_the_readers_language(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/crm/customers/new"))
    made = await admin.post(
        "/console/crm/customers", data={"csrf_token": csrf, "name": "青禾家电", "external_id": "C-1"}
    )
    company_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    made = await admin.post(
        "/console/crm/contacts", data={"csrf_token": csrf, "name": "王经理", "external_id": "P-1"}
    )
    contact_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    async with rt.db.write() as session:
        gone = CrmContact(name="已删除", created_at=rt.clock.now(), updated_at=rt.clock.now())
        session.add(gone)
        await session.flush()
        gone_id = gone.id
        await session.delete(gone)

    async def refused(lang: str, path: str, status: int, **fields: str) -> list[str]:
        admin.cookies.set("kefu_lang", lang)
        if fields or path.endswith("/delete"):
            page = await admin.post(path, data={"csrf_token": csrf, **fields})
        else:
            page = await admin.get(path)
        assert page.status_code == status, page.text
        return refusals(page)

    blank_and_long = {"name": "  ", "phone": "1" * 65}
    taken = {"name": "别家", "external_id": "C-1"}
    no_company = {"name": "赵六", "customer_external_id": "C-9"}
    contact_taken = {"name": "王经理", "external_id": "P-1"}
    not_a_phone_nor_an_email = {"name": "赵六", "phone": "138-0013-800a", "email": "zhao@qinghe"}
    cases = [
        (
            "/console/crm/customers",
            422,
            blank_and_long,
            ["必填", "最多 64 个字符"],
            ["Required", "At most 64 characters"],
        ),
        (
            "/console/crm/customers",
            422,
            taken,
            ["编号“C-1”已被“青禾家电”使用，编号不能重复"],
            ["External ID “C-1” is already used by “青禾家电”; external IDs must be unique"],
        ),
        (
            f"/console/crm/customers/{company_id}",
            422,
            {"name": "x" * 201},
            ["最多 200 个字符"],
            ["At most 200 characters"],
        ),
        (
            "/console/crm/contacts",
            422,
            no_company,
            ["没有编号为“C-9”的客户：请先新建该客户，或检查编号"],
            ["No customer has external ID “C-9”: create that customer first, or check the ID"],
        ),
        (
            "/console/crm/contacts",
            422,
            contact_taken,
            ["编号“P-1”已被“王经理”使用，编号不能重复"],
            ["External ID “P-1” is already used by “王经理”; external IDs must be unique"],
        ),
        (
            "/console/crm/contacts",
            422,
            not_a_phone_nor_an_email,
            [
                "不是有效的电话号码：只能有数字、空格、+、- 和括号，可带分机，如 010-6552 9988 转 8001",
                "不是有效的邮箱地址，如 name@example.com",
            ],
            [
                "Not a phone number: digits, spaces, +, - and parentheses, optionally an extension, "
                "e.g. 010-6552 9988 ext 8001",
                "Not an email address, e.g. name@example.com",
            ],
        ),
        (
            f"/console/crm/contacts/{contact_id}",
            422,
            {"name": "王经理", "external_id": "P-1", "exclusive_userid": "zhangsna"},
            ["专属客服“zhangsna”不是接待人员：请检查 userid，或先在该客户所在企业的客服账号中添加此接待人员"],
            [
                "“zhangsna” is not a servicer: check the userid, or first add them to the servicers of "
                "an account of this customer's corp"
            ],
        ),
        (
            "/console/crm/customers/99999",
            404,
            {},
            ["客户（ID 99999）不存在，可能已被删除"],
            ["Customer 99999 does not exist; it may have been deleted"],
        ),
        (
            f"/console/crm/contacts/{gone_id}",
            404,
            {"name": "改名"},
            [f"联系人（ID {gone_id}）不存在，可能已被删除"],
            [f"Contact {gone_id} does not exist; it may have been deleted"],
        ),
        (
            f"/console/crm/contacts/{gone_id}/delete",
            404,
            {},
            [f"联系人（ID {gone_id}）不存在，可能已被删除"],
            [f"Contact {gone_id} does not exist; it may have been deleted"],
        ),
    ]
    for path, status, fields, chinese, english in cases:
        assert await refused("zh", path, status, **fields) == chinese, path
        assert await refused("en", path, status, **fields) == english, path
    async with rt.db.read() as session:  # nothing of the refused forms was saved
        names = (await session.scalars(select(CrmContact.name).order_by(CrmContact.id))).all()
    assert names == ["王经理"] and contact_id


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


async def test_a_refused_binding_says_why_in_the_readers_language(rt: Runtime, signed_in: SignIn) -> None:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    now = rt.clock.now()
    async with rt.db.write() as session:
        bound = CrmContact(name="王小明", created_at=now, updated_at=now)
        other = CrmContact(name="李四", created_at=now, updated_at=now)
        session.add_all([bound, other])
        await session.flush()
        wechat = await note_wechat_customer(session, connection.id, "wmCustomer01", now=now)
        await bind(session, wechat.id, bound.id, by="cli", now=now)
        conversation = Conversation(
            account_id=account.id, external_userid="wmCustomer01", created_at=now, updated_at=now
        )
        session.add(conversation)
        await session.flush()
        path, other_id = f"/console/conversations/{conversation.id}", other.id
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get(path))

    async def refused(lang: str, contact_id: int, status: int) -> str:
        admin.cookies.set("kefu_lang", lang)
        page = await admin.post(f"{path}/contact", data={"csrf_token": csrf, "contact_id": str(contact_id)})
        assert page.status_code == status, page.text
        found = re.search(r'class="flash flash-error" role="status">(.*?)</div>', page.text)
        assert found, page.text
        return found.group(1)

    assert await refused("zh", other_id, 409) == "这位微信客户已绑定联系人“王小明”，改绑需先由管理员解除绑定"
    assert await refused("en", other_id, 409) == (
        "This WeChat customer is already bound to contact “王小明”; "
        "an administrator must unbind them before they can be bound to another"
    )
    assert await refused("zh", 99999, 404) == "联系人（ID 99999）不存在，可能已被删除"
    assert await refused("en", 99999, 404) == "Contact 99999 does not exist; it may have been deleted"


async def test_a_contacts_import_keeps_good_rows_and_reports_the_bad_one(
    rt: Runtime, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/crm/contacts"))
    content = (
        "external_id,name,phone,email\n"
        "P-1,张三,138 0013 8000,\n"
        "P-2,,13900139000,\n"
        "P-3,李四,(010) 6552 9988 转 8001,li@example.com\n"
        "P-4,王五,,wang@\n"
        "P-5,赵六,138,\n"
    )
    posted = await admin.post(
        "/console/crm/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("contacts.csv", content.encode(), "text/csv")},
    )
    # Post/Redirect/Get: the page after the import shows its result on every reload (the POST
    # answered with the result page itself, so a reload imported the file again).
    assert posted.status_code == 303
    for _ in range(2):
        answer = await admin.get(posted.headers["location"])
        assert (
            answer.status_code == 200
            and "新建 2 条" in answer.text
            and "第 3 行：名称为空（该行已跳过）" in answer.text
            and "第 5 行：邮箱“wang@”不是有效的邮箱地址（如 name@example.com）（该行已跳过）" in answer.text
            and "第 6 行：电话“138”不是有效的电话号码" in answer.text
        )
    another_admin = await signed_in("admin")
    assert "新建 2 条" not in (await another_admin.get(posted.headers["location"])).text
    async with rt.db.read() as session:
        names = (await session.scalars(select(CrmContact.name).order_by(CrmContact.id))).all()
        events, total = await list_events(session, actor="console:admin0")
    assert names == ["张三", "李四"] and total == 2
    assert {e.action for e in events} == {"crm.contact.create"}


async def test_an_imports_refusals_are_in_the_readers_language(rt: Runtime, signed_in: SignIn) -> None:
    connection, _ = await make_connection(rt)
    await add_servicers(rt, (await make_account(rt, connection)).id, ["bob"])
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/crm/customers"))
    customers = "编号,名称\nC-1,青禾家电\n"
    await admin.post(
        "/console/crm/customers/import",
        data={"csrf_token": csrf},
        files={"file": ("customers.csv", customers.encode(), "text/csv")},
    )
    contacts = (
        "编号,姓名,公司编号,专属客服,电话\n"
        "P-1,王经理,C-1,bob,13800138000\n"
        "P-2,,C-1,,\n"
        "P-1,又是王经理,C-1,,\n"
        "P-3,赵六,C-9,,\n"
        "P-4,钱七,C-1,不是userid,\n"
        f"P-5,孙八,C-1,,{'1' * 65}\n"
        "P-6,周九\n"
        ",吴十,C-1,,\n"
        "P-7,吴十一,C-1,alcie,\n"
    )

    async def imported(content: str, lang: str, status: int = 303) -> str:
        admin.cookies.set("kefu_lang", lang)
        answer = await admin.post(
            "/console/crm/contacts/import",
            data={"csrf_token": csrf},
            files={"file": ("contacts.csv", content.encode(), "text/csv")},
        )
        assert answer.status_code == status, answer.text
        if status == 303:  # imported: the result is on the page the redirect shows
            answer = await admin.get(answer.headers["location"])
        found = re.findall(r'<li>(.*?)</li>|role="alert">(.*?)</div>', answer.text, re.S)
        return " ".join("".join(parts) for parts in found)

    chinese = await imported(contacts, "zh")
    for words in (
        "第 3 行：名称为空（该行已跳过）",
        "第 4 行：编号“P-1”重复（第一次出现在第 2 行）（该行已跳过）",
        "第 5 行：没有编号为“C-9”的客户：请先导入客户（该行已跳过）",
        "第 6 行：专属客服“不是userid”不是企业微信 userid（只能有字母、数字和 _-.@）（该行已跳过）",
        "第 7 行：phone 列超过 64 个字符（该行已跳过）",
        "第 8 行：有 2 列，而表头有 5 列（该行已跳过）",
        "第 9 行：编号（external_id）为空：按编号新增或更新（该行已跳过）",
        "第 10 行：专属客服“alcie”不是接待人员：请检查 userid，或先在客服账号中添加此接待人员（该行已跳过）",
    ):
        assert words in chinese, chinese
    english = await imported(contacts, "en")
    for words in (
        "Line 3: name is empty (row skipped)",
        "Line 4: duplicate external_id “P-1” (first on line 2) (row skipped)",
        "Line 5: no customer with external_id “C-9”; import the customers first (row skipped)",
        "Line 8: 2 columns where the header has 5 (row skipped)",
        "Line 10: exclusive_userid “alcie” is not a servicer; check the userid, or add the servicer to an "
        "account first (row skipped)",
    ):
        assert words in english, english

    # An unnamed column between named ones (empty cells at the header's end are Excel's padding).
    bad_header = "姓名,,电话,电话\n王经理,x,138,139\n"
    columns = "external_id,name,phone,email,tags,notes,exclusive_userid,customer_external_id,unionid"
    assert (
        f"第一行应是表头 {columns}（也可用中文列名）：缺少列 external_id；重复的列 phone；有 1 列没有列名"
        in await imported(bad_header, "zh", 422)
    )
    assert (
        f"Line 1 must be the header {columns}: missing column(s) external_id; repeated column(s) phone; "
        "1 column(s) without a name" in await imported(bad_header, "en", 422)
    )
    assert "文件是空的：第一行应是表头" in await imported("\n", "zh", 422)
    undecodable = await admin.post(
        "/console/crm/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("contacts.csv", b"external_id,name\n\xff\xff\n", "text/csv")},
    )
    assert undecodable.status_code == 422
    assert "文件既不是 UTF-8（第 2 行有无法识别的字节）也不是 GB18030" in undecodable.text
    cut_short = await admin.post(  # Excel's “Unicode text” (UTF-16), its last byte lost
        "/console/crm/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("contacts.txt", codecs.BOM_UTF16_LE + "external_id\tname".encode("utf-16-le")[:-1])},
    )
    assert cut_short.status_code == 422
    assert "文件以 UTF-16 的字节顺序标记开头，但内容不是完整的 UTF-16（文件可能被截断）" in cut_short.text


async def test_a_card_stored_with_an_old_phone_is_edited_without_retyping_it(
    rt: Runtime, signed_in: SignIn
) -> None:
    """A card from before phones and emails were checked: editing its notes asked to fix its
    phone first. Only a changed phone or email is checked now."""
    async with rt.db.write() as session:
        row = CrmCustomer(name="青禾家电", phone="总机 6552 9988", email="", created_at=rt.clock.now())
        row.updated_at = row.created_at
        session.add(row)
        await session.flush()
        card_id = row.id
    admin = await signed_in("admin")
    page = await admin.get(f"/console/crm/customers/{card_id}")
    form = {"csrf_token": csrf_of(page), "name": "青禾家电", "phone": "总机 6552 9988", "notes": "老客户"}
    saved = await admin.post(f"/console/crm/customers/{card_id}", data=form)
    assert saved.status_code == 303, saved.text
    changed = await admin.post(f"/console/crm/customers/{card_id}", data={**form, "phone": "总机 6552 9989"})
    assert changed.status_code == 422 and "不是有效的电话号码" in changed.text
    async with rt.db.read() as session:
        stored = await session.get(CrmCustomer, card_id)
        assert stored is not None and (stored.phone, stored.notes) == ("总机 6552 9988", "老客户")


async def test_servicers_cannot_open_the_crm(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    assert (await servicer.get("/console/crm/contacts")).status_code == 403


async def test_a_control_character_in_a_card_is_refused_in_the_readers_language(
    rt: Runtime, signed_in: SignIn
) -> None:
    """As every text an admin writes: beside its field on the card, by its line in an import."""
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/crm/customers/new"))
    refused = await admin.post(
        "/console/crm/customers", data={"csrf_token": csrf, "name": "青禾家电", "notes": "整机\x0b三年"}
    )
    assert refused.status_code == 422 and "field-error" in refused.text
    assert "含有看不见的控制字符（\\x0b，常见于从 Word 粘贴的换行）；请删除后重新输入" in refused.text
    posted = await admin.post(
        "/console/crm/customers/import",
        data={"csrf_token": csrf},
        files={
            "file": ("customers.csv", "external_id,name,notes\nC-1,青禾,\x1b[0m备注\n".encode(), "text/csv")
        },
    )
    answer = await admin.get(posted.headers["location"])
    assert "第 2 行：notes 列含有看不见的控制字符（\\x1b，常见于从 Word 粘贴的换行）" in answer.text
    async with rt.db.read() as session:
        assert (await session.scalars(select(CrmCustomer))).all() == []
