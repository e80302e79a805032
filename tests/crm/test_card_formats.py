"""A card's phone and email are checked (they were taken as any text): a phone as people write
it in China and abroad passes, text that is not one is refused — 422 from the API, words beside
the field in the console (tests/console/test_crm_pages.py), each bad import row by its line."""

from __future__ import annotations

import httpx
import pytest

from kefu.crm.models import CrmContact
from kefu.crm.schemas import CardInvalid, ContactIn, CustomerIn, check_formats
from kefu.runtime import Runtime

CRM = "/api/v1/crm"

PHONES = [
    "13800138000",  # a mobile
    "138 0013 8000",
    "+86 138-0013-8000",
    "010-65529988",  # a landline with its area code
    "(010) 6552 9988",
    "（0755）2345 6789",  # full-width parentheses, as a Chinese keyboard types them
    "138\u30000013\u30008000",  # the full-width space
    "＋86 138－0013－8000",  # full-width plus and dashes
    "０１０－６５５２９９８８",  # full-width digits
    "010-6552 9988 转 8001",  # an extension
    "0755-23456789-123",
    "010 6552 9988 分机 8001",
    "+1 (415) 555-0100 ext. 12",
    "95588",  # a bank's service number
]
NOT_PHONES = ["138", "abc", "1380013800a", "++86 13800138000", "13800138000 / 13900139000", "1" * 16]
NOT_PHONES += ["转 8001", "tel:13800138000"]
EMAILS = ["it@qinghe.cn", "zhang.san+kefu@qinghe.com.cn", "张三@例子.中国"]
NOT_EMAILS = ["it@qinghe", "it qinghe@qinghe.cn", "it@@qinghe.cn", "@qinghe.cn", "it@.cn", "a@b.cn;c@d.cn"]


@pytest.mark.parametrize("model", [CustomerIn, ContactIn])
def test_phones_and_emails_people_write_pass(model: type[CustomerIn]) -> None:
    for phone in PHONES:
        check_formats(model(name="青禾", phone=phone), None)
    for email in EMAILS:
        check_formats(model(name="青禾", email=email), None)
    check_formats(model(name="青禾", phone="", email=""), None)  # both stay optional


@pytest.mark.parametrize(
    ("field", "value"),
    [*(("phone", v) for v in NOT_PHONES), *(("email", v) for v in NOT_EMAILS)],
)
def test_text_that_is_no_phone_or_email_is_refused_with_its_code(field: str, value: str) -> None:
    with pytest.raises(CardInvalid) as refused:
        check_formats(ContactIn.model_validate({"name": "王经理", field: value}), None)
    [problem] = refused.value.problems
    assert (problem.field, problem.problem, problem.values) == (field, f"{field}_invalid", {"value": value})
    assert (refused.value.problem, refused.value.values) == (f"{field}_invalid", {"value": value})


@pytest.mark.db
@pytest.mark.usefixtures("account")
async def test_the_api_refuses_a_bad_phone_or_email_with_422(api: httpx.AsyncClient) -> None:
    bad_phone = await api.post(f"{CRM}/contacts", json={"name": "王经理", "phone": "138-0013-800a"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["message"].startswith("phone: not a phone number")
    assert bad_phone.json()["problem"] == "phone_invalid"
    made = await api.post(f"{CRM}/customers", json={"name": "青禾家电", "phone": "010-6552 9988 转 8001"})
    assert made.status_code == 201, made.text
    bad_email = await api.put(
        f"{CRM}/customers/{made.json()['id']}", json={"name": "青禾家电", "email": "it@qinghe"}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["message"] == "email: not an email address (name@example.com)"
    assert (await api.get(f"{CRM}/customers/{made.json()['id']}")).json()["email"] == ""


# Cards stored before phones and emails were checked may hold text that is neither: such a card
# stays editable. An unchanged stored value is not checked again, a changed one is — through the
# API, its upsert, the CSV import and the console (tests/console/test_crm_pages.py) alike.
OLD_PHONE, OLD_EMAIL = "138-0013-800a 找王经理", "wang at qinghe"


async def _old_contact(rt: Runtime) -> int:
    """A contact as written before the checks: straight into its table."""
    async with rt.db.write() as session:
        row = CrmContact(
            external_id="P-OLD", name="王经理", phone=OLD_PHONE, email=OLD_EMAIL, created_at=rt.clock.now()
        )
        row.updated_at = row.created_at
        session.add(row)
        await session.flush()
        return row.id


async def _stored(rt: Runtime, contact_id: int) -> tuple[str, str, str, str]:
    async with rt.db.read() as session:
        row = await session.get(CrmContact, contact_id)
        assert row is not None
        return row.name, row.phone, row.email, row.notes


@pytest.mark.db
async def test_an_old_card_whose_phone_and_email_are_unchanged_is_saved(
    rt: Runtime,
    api: httpx.AsyncClient,
) -> None:
    contact_id = await _old_contact(rt)
    card = {"name": "王经理", "external_id": "P-OLD", "phone": OLD_PHONE, "email": OLD_EMAIL, "notes": "VIP"}
    saved = await api.put(f"{CRM}/contacts/{contact_id}", json=card)
    assert saved.status_code == 200, saved.text
    assert await _stored(rt, contact_id) == ("王经理", OLD_PHONE, OLD_EMAIL, "VIP")
    upserted = await api.put(f"{CRM}/contacts/by-external-id/P-OLD", json={**card, "notes": "VIP 客户"})
    assert upserted.status_code == 200, upserted.text
    assert await _stored(rt, contact_id) == ("王经理", OLD_PHONE, OLD_EMAIL, "VIP 客户")


@pytest.mark.db
async def test_an_old_cards_changed_phone_or_email_is_checked(
    rt: Runtime,
    api: httpx.AsyncClient,
) -> None:
    contact_id = await _old_contact(rt)
    card = {"name": "王经理", "phone": "138-0013-800b", "email": OLD_EMAIL}
    refused = await api.put(f"{CRM}/contacts/{contact_id}", json=card)
    assert refused.status_code == 422
    body = refused.json()
    assert (body["problem"], body["values"]) == ("phone_invalid", {"value": "138-0013-800b"})
    assert body["message"].startswith("phone: not a phone number")
    both = await api.put(f"{CRM}/contacts/{contact_id}", json={**card, "email": "wang@qinghe"})
    assert both.json()["message"].endswith("; email: not an email address (name@example.com)")
    assert await _stored(rt, contact_id) == ("王经理", OLD_PHONE, OLD_EMAIL, "")
    fixed = await api.put(f"{CRM}/contacts/{contact_id}", json={**card, "phone": "138 0013 8000"})
    assert fixed.status_code == 200, fixed.text
    assert await _stored(rt, contact_id) == ("王经理", "138 0013 8000", OLD_EMAIL, "")


@pytest.mark.db
async def test_an_import_row_of_an_old_card_with_its_phone_unchanged_is_imported(
    rt: Runtime,
    api: httpx.AsyncClient,
) -> None:
    """The import compared each row with the stored card through the schema, which refused the
    stored phone: the row was reported bad for a value the file did not change."""
    contact_id = await _old_contact(rt)
    rows = f"external_id,name,phone,email,notes\nP-OLD,王经理,{OLD_PHONE},{OLD_EMAIL},VIP\nP-NEW,李四,abc,,\n"
    imported = await api.post(f"{CRM}/import/contacts", content=rows.encode())
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["updated"], result["created"]) == (1, 0)
    assert [(e["line"], e["problem"]) for e in result["errors"]] == [(3, "phone_invalid")]
    assert await _stored(rt, contact_id) == ("王经理", OLD_PHONE, OLD_EMAIL, "VIP")
