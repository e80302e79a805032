"""A card's exclusive servicer (专属客服) must be a servicer Kefu knows: of an account of a corp
the card's WeChat customers are on (any corp while none is bound). A mistyped userid is refused
with its code and value, through the service, the API and the CSV import alike; a stored one
whose servicer was removed later is kept, and the card can still be edited."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete

from kefu.accounts.models import KfAccount, Servicer
from kefu.crm import service
from kefu.crm.identity import bind, exclusive_servicer, note_wechat_customer
from kefu.crm.schemas import ContactIn, CustomerIn
from kefu.errors import Invalid
from kefu.runtime import Runtime
from tests.factories import ConnectionKeys, add_servicers, make_account, make_connection, random_aes_key

pytestmark = pytest.mark.db
CRM = "/api/v1/crm"


async def test_a_userid_that_is_no_servicer_is_refused_with_its_code(rt: Runtime, account: KfAccount) -> None:
    async with rt.db.write() as session:
        with pytest.raises(Invalid) as refused:
            await service.save_customer(
                session, CustomerIn(name="青禾家电", exclusive_userid="alcie"), now=rt.clock.now()
            )
    assert (refused.value.problem, refused.value.values) == ("servicer_unknown", {"userid": "alcie"})
    assert refused.value.message == "exclusive_userid 'alcie' is not a servicer of any account"
    async with rt.db.write() as session:
        saved = await service.save_customer(
            session, CustomerIn(name="青禾家电", exclusive_userid="alice"), now=rt.clock.now()
        )
        assert saved.exclusive_userid == "alice"


async def test_a_bound_card_takes_only_a_servicer_of_its_customers_corp(
    rt: Runtime, account: KfAccount
) -> None:
    """carol serves another corp: not this contact's (bound on the first), nor its company's."""
    other, _ = await make_connection(
        rt, name="lanshan", keys=ConnectionKeys("wwOtherCorp0000001", "s", "t", random_aes_key())
    )
    await add_servicers(rt, (await make_account(rt, other, "wkOther")).id, ["carol"])
    now = rt.clock.now()
    async with rt.db.write() as session:
        company = await service.save_customer(session, CustomerIn(name="青禾"), now=now)
        contact = await service.save_contact(
            session, ContactIn(name="王经理", customer_id=company.id), now=now
        )
        wechat = await note_wechat_customer(session, account.connection_id, "wmWang", now=now)
        await bind(session, wechat.id, contact.id, by="cli", now=now)
        company_id, contact_id = company.id, contact.id
    async with rt.db.write() as session:
        with pytest.raises(Invalid, match="not a servicer of the corp") as refused:
            body = ContactIn(name="王经理", customer_id=company_id, exclusive_userid="carol")
            await service.save_contact(session, body, now=now, contact_id=contact_id)
        assert refused.value.problem == "servicer_unknown"
    async with rt.db.write() as session:
        with pytest.raises(Invalid, match="not a servicer of the corp"):
            body = CustomerIn(name="青禾", exclusive_userid="carol")
            await service.save_customer(session, body, now=now, customer_id=company_id)
    async with rt.db.write() as session:  # a card bound nowhere may name carol
        loner = await service.save_contact(session, ContactIn(name="赵六", exclusive_userid="carol"), now=now)
        assert loner.exclusive_userid == "carol"


async def test_a_removed_servicer_stays_on_the_card_and_the_card_can_still_be_edited(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    card = {"name": "青禾家电", "exclusive_userid": "bob"}
    created = (await api.post(f"{CRM}/customers", json=card)).json()
    async with rt.db.write() as session:
        await session.execute(delete(Servicer).where(Servicer.userid == "bob"))
    edited = await api.put(f"{CRM}/customers/{created['id']}", json={**card, "phone": "021-5555"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["exclusive_userid"] == "bob"
    renamed = await api.put(f"{CRM}/customers/{created['id']}", json={**card, "exclusive_userid": "bobb"})
    assert renamed.status_code == 422
    assert renamed.json() == {
        "error": "invalid",
        "message": "exclusive_userid 'bobb' is not a servicer of any account",
        "problem": "servicer_unknown",
        "values": {"userid": "bobb"},
    }
    # Routing still reads bob (and passes over him, as over anyone not in the servicer list).
    contact = (
        await api.post(f"{CRM}/contacts", json={"name": "王经理", "customer_id": created["id"]})
    ).json()
    async with rt.db.write() as session:
        wechat = await note_wechat_customer(session, account.connection_id, "wmWang", now=rt.clock.now())
        await bind(session, wechat.id, contact["id"], by="cli", now=rt.clock.now())
    async with rt.db.read() as session:
        assert await session.run_sync(exclusive_servicer, account.connection_id, "wmWang") == "bob"


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_an_import_row_naming_no_servicer_is_refused_by_its_line(api: httpx.AsyncClient) -> None:
    rows = "external_id,name,exclusive_userid\nC-1,青禾家电,alcie\nC-2,蓝山贸易,bob\n"
    result = (await api.post(f"{CRM}/import/customers", content=rows.encode())).json()
    assert result["created"] == 1
    assert [(e["line"], e["reason"], e["problem"], e["values"]) for e in result["errors"]] == [
        (
            2,
            "exclusive_userid 'alcie' is not a servicer of any account",
            "servicer_unknown",
            {"userid": "alcie"},
        )
    ]
