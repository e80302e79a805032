"""Conversation events through the outgoing webhook, end to end: a session started, ended and
rated arrive signed at a real receiver, in order, once each."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from kefu.threaded_server import ThreadedServer
from tests.crm.test_webhooks import SECRET, Receiver, verify
from tests.reception.conftest import MESSAGES_ON, WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_a_session_started_ended_and_rated_is_told_to_the_webhook(make_world: WorldFactory) -> None:
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    receiver = Receiver()
    with ThreadedServer(receiver, name="webhook-receiver") as server:
        world.rt.settings.webhook_url = f"{server.url}/events"
        world.rt.settings.webhook_secret = SecretStr(SECRET)
        world.says("我的洗衣机坏了，转人工")
        await world.settle()
        world.servicer("end", "alice")
        await world.settle()
        [menu] = [m for m in world.inbox() if m["source"] == "send_msg_on_event"]
        world.clicks(menu["msgid"], menu["body"]["list"][0]["click"]["id"])
        await world.settle()

    assert all(verify(headers, body) for headers, body in receiver.received)
    events = [json.loads(body) for _, body in receiver.received]
    conversation = await world.conversation()
    assert {e["data"]["conversation_id"] for e in events} == {conversation.id}
    told = [(e["event"], e["data"]["session_no"]) for e in events]
    assert told[:2] == [("conversation.session_started", 1), ("conversation.session_ended", 1)]
    assert ("conversation.rated", 1) in told
    rated = next(e["data"] for e in events if e["event"] == "conversation.rated")
    assert (rated["score"], rated["label"], rated["servicer_userid"]) == (100, "满意", "alice")
    assert len({e["id"] for e in events}) == len(events)
