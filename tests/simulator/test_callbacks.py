"""§11.3 callback delivery: real signature and encryption, URL verification, re-sends.

A real receiver (uvicorn in a thread) verifies and decrypts every request with
CallbackCrypto. The fixture's callback timeout is 0.5 s, so a receiver that
sleeps 0.8 s makes the simulator send again.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

from kefu.simulator import SimulatorServer
from kefu.simulator.callbacks import seal
from kefu.simulator.state import Corp
from tests.simulator.helpers import Kf, fixture


def _random16_of(vector: dict) -> bytes:
    """The vector's random prefix (the first 16 plaintext bytes), so sealing can be replayed exactly."""
    key = base64.b64decode(vector["encoding_aes_key"] + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    return (decryptor.update(base64.b64decode(vector["encrypt"])) + decryptor.finalize())[:16]


def test_official_vector_reproduced_by_the_simulators_sealing() -> None:
    """§11.3 / §2.4: sealing the vector's message gives exactly its Encrypt and msg_signature."""
    vector = fixture("crypto_test_vector.json")
    corp = Corp(vector["corpid"], "s", "n", vector["token"], vector["encoding_aes_key"], agent_id=None)
    params, body = seal(
        corp,
        vector["msg"],
        timestamp=vector["timestamp"],
        nonce=vector["nonce"],
        random16=_random16_of(vector),
    )
    assert ElementTree.fromstring(body).findtext("Encrypt") == vector["encrypt"]
    assert params == {
        "msg_signature": vector["msg_signature"],
        "timestamp": vector["timestamp"],
        "nonce": vector["nonce"],
    }


def test_delivery_with_the_vectors_keys(simulator: SimulatorServer, receiver_factory) -> None:
    """§11.3 / §2.4: a corp configured with the vector's corpid/Token/EncodingAESKey; the receiver
    checks the signature and decrypts with them (receiveid = corpid)."""
    vector = fixture("crypto_test_vector.json")
    corp = simulator.control(
        "POST",
        "corps",
        {
            "corpid": vector["corpid"],
            "callback_token": vector["token"],
            "encoding_aes_key": vector["encoding_aes_key"],
        },
    )
    receiver = receiver_factory(corp)
    open_kfid = simulator.control("POST", f"corps/{vector['corpid']}/accounts", {})["open_kfid"]
    customer = simulator.control("POST", f"corps/{vector['corpid']}/customers", {})["external_userid"]
    simulator.control("POST", f"customers/{customer}/enter", {"open_kfid": open_kfid})
    simulator.flush_callbacks()
    assert receiver.errors == [] and receiver.verifications == 1
    [post] = receiver.posts
    assert post.field("ToUserName") == vector["corpid"] and post.field("OpenKfId") == open_kfid


def test_kf_msg_or_event_fields(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§11.3 / §2.5: envelope (ToUserName, AgentID, Encrypt) and the decrypted kf_msg_or_event fields."""
    receiver = receiver_factory(kf.corp)
    kf.say("hi")
    simulator.flush_callbacks()
    assert receiver.errors == []
    [post] = receiver.posts
    envelope = ElementTree.fromstring(post.envelope)
    assert envelope.findtext("ToUserName") == kf.corpid and envelope.findtext("AgentID") == "1000002"
    assert post.field("ToUserName") == kf.corpid
    assert post.field("CreateTime") == str(int(simulator.clock.timestamp()))
    assert (post.field("MsgType"), post.field("Event")) == ("event", "kf_msg_or_event")
    assert post.field("Token").startswith("ENC") and post.field("OpenKfId") == kf.open_kfid
    assert set(post.query) == {"msg_signature", "timestamp", "nonce"}


def test_one_callback_per_action_each_with_a_fresh_token(
    kf: Kf, simulator: SimulatorServer, receiver_factory
) -> None:
    """§11.3: every customer, servicer or system action fires a callback with a fresh Token."""
    receiver = receiver_factory(kf.corp)
    kf.enter()
    kf.say("hi")
    kf.trans(2)
    kf.act("take", {"servicer_userid": "zhangsan"})
    simulator.control("POST", f"corps/{kf.corpid}/members/lisi/reception", {"status": 2})
    simulator.flush_callbacks()
    tokens = [p.field("Token") for p in receiver.posts]
    assert len(tokens) == 4 and len(set(tokens)) == 4  # trans (API) fires none


def test_agent_id_is_optional(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§2.3: AgentID is UNCONFIRMED for kf; a corp created with agent_id null omits it."""
    corp = simulator.control("POST", "corps", {"agent_id": None})
    receiver = receiver_factory(corp)
    open_kfid = simulator.control("POST", f"corps/{corp['corpid']}/accounts", {})["open_kfid"]
    customer = simulator.control("POST", f"corps/{corp['corpid']}/customers", {})["external_userid"]
    simulator.control("POST", f"customers/{customer}/enter", {"open_kfid": open_kfid})
    simulator.flush_callbacks()
    assert ElementTree.fromstring(receiver.posts[0].envelope).find("AgentID") is None


def test_url_verification_required_to_save(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§11.3 / §2.2: setting the URL verifies it by GET with echostr; a URL that fails is not saved."""
    receiver = receiver_factory(kf.corp)
    assert receiver.verifications == 1
    with pytest.raises(httpx.HTTPStatusError) as failure:
        simulator.control("PUT", f"corps/{kf.corpid}/callback", {"url": "http://127.0.0.1:9/closed"})
    assert failure.value.response.status_code == 409
    assert simulator.control("GET", f"corps/{kf.corpid}")["callback_url"] == receiver.url
    unverified = simulator.control(
        "PUT", f"corps/{kf.corpid}/callback", {"url": "http://127.0.0.1:9/x", "verify": False}
    )
    assert unverified == {"callback_url": "http://127.0.0.1:9/x", "verified": False}


def test_slow_receiver_gets_a_resend_with_the_same_data(
    kf: Kf, simulator: SimulatorServer, receiver_factory
) -> None:
    """§11.3 / §2.6: no 200 within the timeout → sent again; the re-send creates no new message."""
    receiver = receiver_factory(kf.corp, slow_first=1, delay_s=0.8)
    kf.say("hi")
    assert simulator.flush_callbacks()
    assert len(receiver.posts) == 2
    assert receiver.posts[0].plaintext == receiver.posts[1].plaintext  # same Token, same data
    [delivery] = simulator.control("GET", "callbacks", corpid=kf.corpid)["deliveries"]
    assert [a["outcome"] for a in delivery["attempts"]] == ["timeout", "HTTP 200"]
    assert delivery["status"] == "delivered"
    assert [m["text"]["content"] for m in kf.sync()["msg_list"]] == ["hi"]


def test_non_200_is_retried_three_times(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§11.3 / §2.6: a non-200 answer → up to 3 re-sends (1 + 3 attempts), then given up."""
    receiver = receiver_factory(kf.corp, status=500)
    kf.say("hi")
    assert simulator.flush_callbacks()
    assert len(receiver.posts) == 4
    [delivery] = simulator.control("GET", "callbacks")["deliveries"]
    assert delivery["status"] == "failed" and [a["outcome"] for a in delivery["attempts"]] == ["HTTP 500"] * 4
    assert len(kf.sync()["msg_list"]) == 1  # still pullable, once


def test_injected_callback_failure_duplicates_delivery(
    kf: Kf, simulator: SimulatorServer, receiver_factory
) -> None:
    """§11.3: fault "fail" ignores the receiver's 200 once → the receiver sees the callback twice."""
    receiver = receiver_factory(kf.corp)
    simulator.control("POST", "faults", {"endpoint": "callback", "callback": "fail", "count": 1})
    kf.say("hi")
    simulator.flush_callbacks()
    assert len(receiver.posts) == 2 and receiver.posts[0].plaintext == receiver.posts[1].plaintext
    assert simulator.control("GET", "faults")["faults"] == []  # used up


def test_injected_callback_drop(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§11.3: fault "drop" loses the callback; the message is still pullable."""
    receiver = receiver_factory(kf.corp)
    simulator.control("POST", "faults", {"endpoint": "callback", "callback": "drop", "count": 1})
    kf.say("lost wake-up")
    kf.say("second")
    simulator.flush_callbacks()
    assert len(receiver.posts) == 1
    statuses = [d["status"] for d in simulator.control("GET", "callbacks")["deliveries"]]
    assert statuses == ["dropped", "delivered"]
    assert len(kf.sync()["msg_list"]) == 2


def test_no_callback_without_url(kf: Kf, simulator: SimulatorServer) -> None:
    """§2.1: without a callback URL nothing is sent; the stream still fills."""
    kf.say("hi")
    assert simulator.control("GET", "callbacks")["count"] == 0
    assert len(kf.sync()["msg_list"]) == 1


def test_callback_body_is_xml_not_json(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§2.3: the body is the XML envelope."""
    receiver = receiver_factory(kf.corp)
    kf.say("hi")
    simulator.flush_callbacks()
    with pytest.raises(json.JSONDecodeError):
        json.loads(receiver.posts[0].envelope)
