"""A card's texts refuse the control characters every text an admin writes refuses (Word's line
break \\x0b pasted in, an escape), with the same code and words (`text_control`): the CRM refused
only NUL. A card stored before keeps them until someone changes that text: it is read, listed
and saved with it unchanged, as a phone stored before phones were checked."""

from __future__ import annotations

import httpx
import pytest

from kefu.crm.models import CrmContact
from kefu.runtime import Runtime

pytestmark = pytest.mark.db
CRM = "/api/v1/crm"


@pytest.mark.usefixtures("account")
@pytest.mark.parametrize(
    ("field", "value", "char"),
    [
        ("name", "王\x0b经理", "\\x0b"),
        ("notes", "VIP\x1b[0m 客户\n第二行\t缩进", "\\x1b"),  # tab and line break are text
        ("tags", ["VIP", "华\x07东"], "\\x07"),
        ("custom_fields", {"地区": "华\x0c东"}, "\\x0c"),
        ("phone", "138\x0b0013 8000", "\\x0b"),
    ],
)
async def test_a_control_character_in_a_card_is_refused_with_its_code(
    api: httpx.AsyncClient, field: str, value: object, char: str
) -> None:
    refused = await api.post(f"{CRM}/contacts", json={"name": "王经理", field: value})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert (body["problem"], body["values"]) == ("text_control", {"field": field, "char": char})
    assert body["message"] == f"{field}: holds an invisible control character ({char}); remove it"
    assert (await api.get(f"{CRM}/contacts")).json() == []


async def _old_contact(rt: Runtime) -> int:
    """A contact as an earlier Kefu stored it: straight into its table."""
    async with rt.db.write() as session:
        row = CrmContact(external_id="P-OLD", name="王经理", notes="整机\x0b三年", created_at=rt.clock.now())
        row.updated_at = row.created_at
        row.tags = ["华\x07东"]
        session.add(row)
        await session.flush()
        return row.id


@pytest.mark.usefixtures("account")
async def test_a_card_stored_with_a_control_character_is_read_and_saved_while_it_is_unchanged(
    rt: Runtime, api: httpx.AsyncClient
) -> None:
    contact_id = await _old_contact(rt)
    read = await api.get(f"{CRM}/contacts/{contact_id}")
    assert read.status_code == 200 and read.json()["notes"] == "整机\x0b三年"
    card = {"name": "王经理", "external_id": "P-OLD", "notes": "整机\x0b三年", "tags": ["华\x07东", "VIP"]}
    assert (await api.put(f"{CRM}/contacts/{contact_id}", json=card)).status_code == 200
    changed = await api.put(f"{CRM}/contacts/{contact_id}", json={**card, "notes": "整机\x0b五年"})
    assert (changed.status_code, changed.json()["problem"]) == (422, "text_control")
    rows = "external_id,name,notes,tags\nP-OLD,王经理,整机\x0b三年,华\x07东|VIP\nP-NEW,李四,\x1b,\n"
    imported = (await api.post(f"{CRM}/import/contacts", content=rows.encode())).json()
    assert (imported["unchanged"], imported["created"]) == (1, 0)
    assert [(e["line"], e["problem"], e["values"]) for e in imported["errors"]] == [
        (3, "text_control", {"field": "notes", "char": "\\x1b"})
    ]
