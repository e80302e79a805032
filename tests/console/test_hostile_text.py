"""Stored XSS: what customers and outsiders type — a WeChat nickname and avatar URL, message
text, a CRM card, a knowledge entry, an account's and a servicer's name, and so the audit log —
holding `<script>`, `"><img onerror>`, `javascript:` and `{{ }}` is shown as typed on every
console page and live fragment that shows it, never as markup; and every console answer
carries a Content-Security-Policy that runs scripts from the console's own files only."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from kefu.console.headers import CONTENT_SECURITY_POLICY
from kefu.console.web import STATIC_DIR
from tests.console.conftest import SignIn
from tests.console.workbench_world import customer_in_pool, make_world
from tests.factories import api_client
from tests.reception.conftest import WorldFactory

__all__ = ["make_world"]
pytestmark = pytest.mark.db

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
LINK = "javascript:alert(document.cookie)"
TEMPLATE = "{{ 7*7 }}{% raw %}"
HOSTILE = f"{SCRIPT}{IMG}{LINK}{TEMPLATE}"
ACCOUNT_NAME = '"><svg/onload=1>'  # WeCom's 16-character limit
RAW = (SCRIPT, "<img src=x", "<svg/onload", 'href="javascript:', 'src="javascript:', "{% raw %}49")


async def _seed(make_world: WorldFactory) -> tuple[int, int, int, int]:
    """A customer with a hostile nickname waiting in the pool after hostile messages, and hostile
    CRM cards, knowledge entry, account name and servicer name (each change in the audit log)."""
    world = await make_world(
        settings={"reception": {"mode": "ai_first"}, "routing": {"rules": [{"rule": "exclusive"}]}},
        servicers=["zhangsan"],
        kb=True,
    )
    created = world.sim.control(
        "POST",
        f"corps/{world.corp['corpid']}/customers",
        {"nickname": HOSTILE[:60], "avatar": LINK},
    )
    world = type(world)(**{**world.__dict__, "customer": created["external_userid"]})
    world.says(HOSTILE)
    await world.settle()
    world.rt.clock.advance(timedelta(seconds=5))
    await customer_in_pool(world)
    account = world.account.id
    async with api_client(world.rt) as api:
        customer = await api.post(
            "/api/v1/crm/customers",
            json={"name": HOSTILE[:200], "notes": HOSTILE, "tags": [SCRIPT], "custom_fields": {IMG: HOSTILE}},
        )
        assert customer.status_code == 201, customer.text
        contact = await api.post(
            "/api/v1/crm/contacts",
            json={"name": SCRIPT, "notes": HOSTILE, "customer_id": customer.json()["id"]},
        )
        assert contact.status_code == 201, contact.text
        entry = {"id": "xss", "question": HOSTILE, "answer": HOSTILE, "tags": [IMG]}
        assert (await api.post(f"/api/v1/accounts/{account}/knowledge", json=entry)).status_code == 201
        renamed = await api.patch(f"/api/v1/accounts/{account}", json={"name": ACCOUNT_NAME})
        assert renamed.status_code == 200, renamed.text
        named = await api.put(
            f"/api/v1/accounts/{account}/servicers", json={"servicers": [{"userid": "zhangsan", "name": IMG}]}
        )
        assert named.status_code == 200, named.text
    conversation = (await world.conversation()).id
    return account, customer.json()["id"], contact.json()["id"], conversation


def _pages(account: int, customer: int, contact: int, conversation: int) -> list[str]:
    return [
        "/console/",
        "/console/workbench/pool",
        "/console/workbench/pool/list",
        "/console/workbench/sessions",
        "/console/workbench/sessions/list",
        "/console/workbench/follow-ups",
        "/console/workbench/awaiting-reply",
        "/console/conversations",
        "/console/conversations/list",
        f"/console/conversations/{conversation}",
        f"/console/conversations/{conversation}/transcript",
        "/console/crm/customers",
        f"/console/crm/customers/{customer}",
        "/console/crm/contacts",
        f"/console/crm/contacts/{contact}",
        f"/console/knowledge?account={account}",
        f"/console/knowledge?account={account}&q=script",
        f"/console/knowledge/{account}/entry?id=xss",
        "/console/accounts",
        f"/console/accounts/{account}",
        "/console/reports",
        "/console/audit",
        "/console/users",
    ]


async def test_hostile_text_is_shown_as_typed_on_every_page(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    ids = await _seed(make_world)
    shown: list[str] = []
    for role in ("admin", "servicer"):
        client: httpx.AsyncClient = await signed_in(role)
        for path in _pages(*ids):
            page = await client.get(path)
            if page.status_code == 403:
                continue
            assert page.status_code == 200, (role, path, page.status_code)
            assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            for raw in RAW:
                assert raw not in page.text, (role, path, raw)
            assert not re.search(r"\s(?:src|href|action)=\"?\s*javascript:", page.text, re.I), (role, path)
            shown.append(page.text)
    everything = "\n".join(shown)
    # Each value reached a page, escaped: the sweep looked where they are shown.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in everything
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in everything
    assert "&#34;&gt;&lt;svg/onload=1&gt;" in everything  # the account's name
    assert "{{ 7*7 }}{% raw %}" in everything  # a template's syntax is text, not a template
    transcript = next(text for text in shown if 'id="conversation-live"' in text)
    assert transcript.count("&lt;script&gt;alert(") >= 2  # the nickname and the message


def test_no_template_has_inline_script_the_policy_would_block() -> None:
    for template in sorted((STATIC_DIR.parent / "templates").glob("*.html")):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=|javascript:", text), template.name


async def test_the_policy_allows_no_inline_script(console: httpx.AsyncClient) -> None:
    for path in ("/console/login", "/console/static/console.js", "/console/users"):
        answer = await console.get(path)
        policy = answer.headers["content-security-policy"]
        script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
        assert script.split() == ["script-src", "'self'"], path
        assert "frame-ancestors 'none'" in policy and answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in (await console.get("/healthz")).headers
