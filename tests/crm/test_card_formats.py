"""A card's phone and email are checked (they were taken as any text): a phone as people write
it in China and abroad passes, text that is not one is refused — 422 from the API, words beside
the field in the console (tests/console/test_crm_pages.py), each bad import row by its line."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from kefu.crm.schemas import ContactIn, CustomerIn, card_problems

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
        assert model(name="青禾", phone=phone).phone == phone
    for email in EMAILS:
        assert model(name="青禾", email=email).email == email
    assert model(name="青禾", phone="", email="").phone == ""  # both stay optional


@pytest.mark.parametrize(
    ("field", "value"),
    [*(("phone", v) for v in NOT_PHONES), *(("email", v) for v in NOT_EMAILS)],
)
def test_text_that_is_no_phone_or_email_is_refused_with_its_code(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ContactIn.model_validate({"name": "王经理", field: value})
    [problem] = card_problems(refused.value)
    assert (problem.field, problem.problem, problem.values) == (field, f"{field}_invalid", {"value": value})


@pytest.mark.db
@pytest.mark.usefixtures("account")
async def test_the_api_refuses_a_bad_phone_or_email_with_422(api: httpx.AsyncClient) -> None:
    bad_phone = await api.post(f"{CRM}/contacts", json={"name": "王经理", "phone": "138-0013-800a"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["message"].startswith("body.phone: not a phone number")
    made = await api.post(f"{CRM}/customers", json={"name": "青禾家电", "phone": "010-6552 9988 转 8001"})
    assert made.status_code == 201, made.text
    bad_email = await api.put(
        f"{CRM}/customers/{made.json()['id']}", json={"name": "青禾家电", "email": "it@qinghe"}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["message"] == "body.email: not an email address (name@example.com)"
    assert (await api.get(f"{CRM}/customers/{made.json()['id']}")).json()["email"] == ""
