"""/api/v1/crm through the real ASGI app: customers and contacts (CRUD, search, upsert by
external id), binding a WeChat customer by hand with its history, the unbound list, and the
exclusive servicer routing reads (the contact's wins over its company's)."""

from __future__ import annotations

import httpx
import pytest

from kefu.accounts.models import KfAccount
from kefu.crm.identity import bind_by_unionid, exclusive_servicer, exclusive_servicers, note_wechat_customer
from kefu.runtime import Runtime

pytestmark = pytest.mark.db
CRM = "/api/v1/crm"


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_customer_crud_and_search(api: httpx.AsyncClient) -> None:
    card = {
        "name": "青禾家电",
        "phone": "021-5555",
        "email": "it@qinghe.cn",
        "tags": ["vip", "上海"],
        "notes": "年框客户",
        "custom_fields": {"合同号": "HT-1", "level": 3},
        "exclusive_userid": "alice",
    }
    created = await api.post(f"{CRM}/customers", json=card)
    assert created.status_code == 201, created.text
    customer = created.json()
    assert {k: customer[k] for k in card} == card and customer["external_id"] is None
    other = await api.post(f"{CRM}/customers", json={"name": "蓝山贸易", "tags": ["上海"]})
    assert other.status_code == 201

    async def names(**params: str) -> list[str]:
        answer = await api.get(f"{CRM}/customers", params=params)
        assert answer.status_code == 200, answer.text
        return [c["name"] for c in answer.json()]

    assert await names() == ["青禾家电", "蓝山贸易"]
    assert await names(q="青禾") == ["青禾家电"]
    assert await names(q="qinghe") == ["青禾家电"]  # the email
    assert await names(tag="上海") == ["青禾家电", "蓝山贸易"]
    assert await names(tag="vip") == ["青禾家电"]
    assert await names(limit="1", offset="1") == ["蓝山贸易"]

    changed = await api.put(f"{CRM}/customers/{customer['id']}", json={**card, "exclusive_userid": None})
    assert changed.status_code == 200 and changed.json()["exclusive_userid"] is None
    assert (await api.get(f"{CRM}/customers/{customer['id']}")).json()["notes"] == "年框客户"
    assert (await api.delete(f"{CRM}/customers/{customer['id']}")).status_code == 204
    missing = await api.get(f"{CRM}/customers/{customer['id']}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    bad = await api.post(f"{CRM}/customers", json={"name": "", "unknown": 1})
    assert bad.status_code == 422


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_contacts_belong_to_a_customer_and_inherit_its_exclusive_servicer(
    api: httpx.AsyncClient,
) -> None:
    company = (
        await api.post(f"{CRM}/customers", json={"name": "青禾家电", "exclusive_userid": "alice"})
    ).json()
    created = await api.post(f"{CRM}/contacts", json={"name": "王经理", "customer_id": company["id"]})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["customer_id"], contact["exclusive_userid"]) == (company["id"], None)
    assert contact["effective_exclusive_userid"] == "alice"
    own = await api.put(
        f"{CRM}/contacts/{contact['id']}",
        json={"name": "王经理", "customer_id": company["id"], "exclusive_userid": "bob"},
    )
    assert own.json()["effective_exclusive_userid"] == "bob"
    listed = await api.get(f"{CRM}/contacts", params={"customer_id": company["id"]})
    assert [c["name"] for c in listed.json()] == ["王经理"]

    nowhere = await api.post(f"{CRM}/contacts", json={"name": "李四", "customer_id": 999})
    assert nowhere.status_code == 404
    # Deleting the company keeps its people, without a company.
    assert (await api.delete(f"{CRM}/customers/{company['id']}")).status_code == 204
    assert (await api.get(f"{CRM}/contacts/{contact['id']}")).json()["customer_id"] is None


@pytest.mark.usefixtures("account")  # its servicers: alice and bob
async def test_upsert_by_external_id_is_idempotent(api: httpx.AsyncClient) -> None:
    card = {"name": "青禾家电", "tags": ["vip"], "exclusive_userid": "alice"}
    first = await api.put(f"{CRM}/customers/by-external-id/C-1", json=card)
    assert first.status_code == 201, first.text
    again = await api.put(f"{CRM}/customers/by-external-id/C-1", json=card)
    assert again.status_code == 200 and again.json() == first.json()  # updated_at included
    changed = await api.put(f"{CRM}/customers/by-external-id/C-1", json={**card, "name": "青禾电器"})
    assert changed.status_code == 200 and changed.json()["id"] == first.json()["id"]
    assert changed.json()["name"] == "青禾电器"
    assert len((await api.get(f"{CRM}/customers")).json()) == 1

    person = {"name": "王经理", "customer_external_id": "C-1", "unionid": "o6_union"}
    made = await api.put(f"{CRM}/contacts/by-external-id/P-1", json=person)
    assert made.status_code == 201, made.text
    assert made.json()["customer_id"] == first.json()["id"]
    same = await api.put(f"{CRM}/contacts/by-external-id/P-1", json=person)
    assert same.status_code == 200 and same.json() == made.json()
    unknown = await api.put(
        f"{CRM}/contacts/by-external-id/P-2", json={**person, "customer_external_id": "C-9"}
    )
    assert unknown.status_code == 404
    assert unknown.json() == {  # English for people; the code and values for programs (and the console)
        "error": "not_found",
        "message": "no customer with external_id 'C-9'",
        "problem": "no_customer",
        "values": {"id": "C-9"},
    }
    # An external id is one card's: creating another card with it is refused.
    taken = await api.post(f"{CRM}/customers", json={"name": "另一家", "external_id": "C-1"})
    assert taken.status_code == 409
    assert taken.json() == {
        "error": "conflict",
        "message": f"customer {first.json()['id']} already has external_id 'C-1'",
        "problem": "external_id_taken",
        "values": {"external_id": "C-1", "id": first.json()["id"], "name": "青禾电器"},
    }


async def test_binding_by_hand_is_recorded_and_unbound_customers_are_listed(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    contact = (await api.post(f"{CRM}/contacts", json={"name": "王经理", "exclusive_userid": "bob"})).json()
    seen = []
    for external in ("wmCustomerA", "wmCustomerB"):
        answer = await api.post(
            f"{CRM}/wechat-customers",
            json={"connection_id": account.connection_id, "external_userid": external},
        )
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
    first = seen[0]["id"]
    unbound = await api.get(f"{CRM}/wechat-customers", params={"unbound": "true"})
    assert [c["external_userid"] for c in unbound.json()] == ["wmCustomerB", "wmCustomerA"]

    bound = await api.put(f"{CRM}/wechat-customers/{first}/contact", json={"contact_id": contact["id"]})
    assert bound.status_code == 200 and bound.json()["contact_id"] == contact["id"]
    unbound = await api.get(f"{CRM}/wechat-customers", params={"unbound": "true"})
    assert [c["external_userid"] for c in unbound.json()] == ["wmCustomerB"]
    async with rt.db.read() as session:
        assert await session.run_sync(exclusive_servicer, account.connection_id, "wmCustomerA") == "bob"
        assert await session.run_sync(exclusive_servicer, account.connection_id, "wmCustomerB") is None

    other = (await api.post(f"{CRM}/contacts", json={"name": "李四"})).json()
    moved = await api.put(f"{CRM}/wechat-customers/{first}/contact", json={"contact_id": other["id"]})
    assert moved.status_code == 409  # bound to someone else: unbind first
    assert (
        moved.json()["message"]
        == f"WeChat customer {first} is bound to contact {contact['id']}; unbind it first"
    )
    assert (await api.delete(f"{CRM}/wechat-customers/{first}/contact")).status_code == 204
    assert (await api.delete(f"{CRM}/wechat-customers/{first}/contact")).status_code == 404
    history = (await api.get(f"{CRM}/wechat-customers/{first}/bindings")).json()
    assert [(h["action"], h["contact_id"], h["by"]) for h in history] == [
        ("bind", contact["id"], "token:alice"),
        ("unbind", contact["id"], "token:alice"),
    ]
    # Deleting a contact unbinds their WeChat customers, recorded like any unbinding.
    assert (
        await api.put(f"{CRM}/wechat-customers/{first}/contact", json={"contact_id": other["id"]})
    ).status_code == 200
    assert (await api.delete(f"{CRM}/contacts/{other['id']}")).status_code == 204
    assert (await api.get(f"{CRM}/wechat-customers/{first}")).json()["contact_id"] is None
    history = (await api.get(f"{CRM}/wechat-customers/{first}/bindings")).json()
    assert [(h["action"], h["contact_id"], h["contact_name"]) for h in history[-2:]] == [
        ("bind", None, "李四"),
        ("unbind", None, "李四"),
    ]
    no_connection = await api.post(
        f"{CRM}/wechat-customers", json={"connection_id": 99, "external_userid": "x"}
    )
    assert no_connection.status_code == 404


async def test_the_contacts_exclusive_servicer_wins_over_its_companys(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    company = (await api.post(f"{CRM}/customers", json={"name": "青禾", "exclusive_userid": "alice"})).json()
    people = {}
    for name, own in (("甲", "bob"), ("乙", None)):
        body = {"name": name, "customer_id": company["id"], "exclusive_userid": own}
        people[name] = (await api.post(f"{CRM}/contacts", json=body)).json()["id"]
    loner = (await api.post(f"{CRM}/contacts", json={"name": "丙"})).json()["id"]
    for external, contact in (("wmJia", people["甲"]), ("wmYi", people["乙"]), ("wmBing", loner)):
        wechat = await api.post(
            f"{CRM}/wechat-customers",
            json={"connection_id": account.connection_id, "external_userid": external},
        )
        bound = await api.put(
            f"{CRM}/wechat-customers/{wechat.json()['id']}/contact", json={"contact_id": contact}
        )
        assert bound.status_code == 200
    async with rt.db.read() as session:
        found = await session.run_sync(
            exclusive_servicers, account.connection_id, ["wmJia", "wmYi", "wmBing", "wmNobody"]
        )
    assert found == {"wmJia": "bob", "wmYi": "alice"}


async def test_unionid_binds_only_an_unbound_customer_to_the_one_contact_with_it(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    for name in ("甲", "乙"):
        await api.post(f"{CRM}/contacts", json={"name": name, "unionid": "oShared"})
    only = (await api.post(f"{CRM}/contacts", json={"name": "丙", "unionid": "oOwn"})).json()["id"]
    now = rt.clock.now()
    async with rt.db.write() as session:
        shared = await note_wechat_customer(session, account.connection_id, "wmS", now=now, unionid="oShared")
        own = await note_wechat_customer(session, account.connection_id, "wmO", now=now, unionid="oOwn")
        none = await note_wechat_customer(session, account.connection_id, "wmN", now=now)
        assert await bind_by_unionid(session, shared, now=now) is None  # two contacts claim it
        assert await bind_by_unionid(session, none, now=now) is None
        event = await bind_by_unionid(session, own, now=now)
        assert event is not None and (event.contact_id, event.by) == (only, "unionid")
        assert await bind_by_unionid(session, own, now=now) is None  # already bound
    unbound = (await api.get(f"{CRM}/wechat-customers", params={"unbound": "true"})).json()
    assert sorted(c["external_userid"] for c in unbound) == ["wmN", "wmS"]
