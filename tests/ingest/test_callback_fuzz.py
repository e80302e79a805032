"""Hostile input on the callback endpoint (issue #15): hypothesis throws random and mutated
requests at the real ASGI app with real encryption, and after every one checks that

- nothing answers 5xx;
- only a request we signed with the connection's real token is ever answered 200, and only such a
  request stores anything (`callback_events`, jobs); nothing ever stores `messages` (the pull does);
- one signed request stores at most one event, however often and in whatever disguise it is
  replayed.

Mutations start from a correctly signed message and touch every part of it: the query (each
parameter dropped, emptied, replaced, a character flipped, case changed, repeated), the body (random
bytes, truncation, byte flips, a DTD with billion laughs or external entities, other encodings,
deep nesting, padding up to and past the size limit), the path, the method; plus replays of earlier
genuine requests. Deterministic (`derandomize`), 200 examples of 1–3 requests in a few seconds;
`KEFU_FUZZ_EXAMPLES=5000 scripts/test tests/ingest/test_callback_fuzz.py` runs a longer search.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kefu.app import create_app
from kefu.ingest.models import CallbackEvent, Message
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from tests.factories import ConnectionKeys, make_account, make_connection

pytestmark = pytest.mark.db
EXAMPLES = int(os.environ.get("KEFU_FUZZ_EXAMPLES", "200"))
OPEN_KFID = "wkFuzzAccount0001"

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><Encrypt>&i;</Encrypt></xml>"
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>'


@dataclass
class Request:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes
    signed_key: str | None  # the key of the request we signed and then mutated (or not), if any

    def key(self) -> str:
        """The identity of the signed request this one claims to be: its signature (compared
        without regard to case, as the signature check does), timestamp and nonce — the last of
        each, as the server reads them."""
        query = dict(self.params)
        return replay_key(query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""))


def replay_key(signature: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha256(f"{signature.lower()}\n{timestamp}\n{nonce}".encode()).hexdigest()


def inner_xml(corp_id: str, kind: str, text: str) -> str:
    cdata = text.replace("]]>", "")
    if kind == "msg":
        return (
            f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><CreateTime>1348831860</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[ENC{cdata[:100]}]]></Token><OpenKfId><![CDATA[{OPEN_KFID}]]></OpenKfId></xml>"
        )
    if kind == "auth":
        return (
            f"<xml><ToUserName>{corp_id}</ToUserName><CreateTime>1348831860</CreateTime>"
            "<MsgType>event</MsgType><Event>kf_account_auth_change</Event>"
            f"<AuthAddOpenKfId><![CDATA[wk{cdata[:60]}]]></AuthAddOpenKfId></xml>"
        )
    if kind == "long":  # a field longer than WeCom documents: 400 after decrypting
        return (
            f"<xml><Event>kf_msg_or_event</Event><OpenKfId>{'w' * 65}</OpenKfId><Token>{cdata}</Token></xml>"
        )
    return text  # anything at all, signed: inner junk must be 400, never 5xx


@st.composite
def signed_request(draw: st.DrawFn, keys: ConnectionKeys, connection_id: int, now: int) -> Request:
    crypto = keys.crypto()
    kind = draw(st.sampled_from(["msg", "msg", "auth", "long", "junk"]))
    text = draw(st.text(max_size=200))
    timestamp = str(now + draw(st.sampled_from([0, 0, 0, -59, 3599, -3601, 3601, -(10**6)])))
    nonce = draw(st.one_of(st.from_regex(r"[0-9]{1,12}", fullmatch=True), st.text(max_size=80)))
    encrypted = crypto.encrypt(inner_xml(keys.corp_id, kind, text))
    signature = crypto.sign(timestamp, nonce, encrypted)
    if draw(st.booleans()):  # WeCom's GET check of the URL: the signed echostr
        params = [("msg_signature", signature), ("timestamp", timestamp), ("nonce", nonce)]
        return Request(
            "GET",
            f"/wecom/callback/{connection_id}",
            [*params, ("echostr", encrypted)],
            b"",
            replay_key(signature, timestamp, nonce),
        )
    body = (
        f"<xml><ToUserName><![CDATA[{keys.corp_id}]]></ToUserName>"
        f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()
    params = [("msg_signature", signature), ("timestamp", timestamp), ("nonce", nonce)]
    return Request(
        "POST", f"/wecom/callback/{connection_id}", params, body, replay_key(signature, timestamp, nonce)
    )


def flip(text: str, index: int, char: str) -> str:
    if not text:
        return char
    index %= len(text)
    return text[:index] + char + text[index + 1 :]


@st.composite
def mutated(draw: st.DrawFn, base: Request, limit: int) -> Request:
    """`base` changed in one part. A change that keeps it signed keeps its key (the server may then
    store it, once); any other change makes it unsigned input."""
    where = draw(st.sampled_from(["query", "query", "body", "body", "body", "path", "method", "replay-case"]))
    params, body, path, method = list(base.params), base.body, base.path, base.method
    if where == "query" and params:
        index = draw(st.integers(0, len(params) - 1))
        name, value = params[index]
        how = draw(st.sampled_from(["drop", "empty", "replace", "flip", "repeat", "huge", "unicode"]))
        if how == "drop":
            del params[index]
        elif how == "empty":
            params[index] = (name, "")
        elif how == "replace":
            params[index] = (name, draw(st.text(max_size=60)))
        elif how == "flip":
            params[index] = (
                name,
                flip(value, draw(st.integers(0, 200)), draw(st.sampled_from("0aZ9 %&=\x00"))),
            )
        elif how == "repeat":
            params.insert(index, (name, draw(st.text(max_size=40))))
        elif how == "huge":
            params[index] = (name, (value * draw(st.integers(2, 4000)))[:8000])  # httpx caps a URL at 64 KB
        else:
            params[index] = (
                name,
                draw(st.sampled_from(["١٢٣٤٥٦٧٨٩٠", "１２３", "-1", "+1", " 1", "1e9", "0x10"])),
            )
        return Request(method, path, params, body, base.signed_key)
    if where in ("body", "query"):
        how = draw(
            st.sampled_from(
                ["random", "truncate", "insert", "flip", "dtd", "encoding", "deep", "pad", "huge", "encrypt"]
            )
        )
        if how == "random":
            body = draw(st.binary(max_size=2000))
        elif how == "truncate":
            body = body[: draw(st.integers(0, max(0, len(body) - 1)))]
        elif how == "insert":
            at = draw(st.integers(0, len(body)))
            body = body[:at] + draw(st.binary(min_size=1, max_size=40)) + body[at:]
        elif how == "flip" and body:
            at = draw(st.integers(0, len(body) - 1))
            body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
        elif how == "dtd":
            body = draw(st.sampled_from([BILLION_LAUGHS, EXTERNAL])).encode()
        elif how == "encoding":
            text = body.decode(errors="replace")
            body = draw(
                st.sampled_from(
                    [
                        ('<?xml version="1.0" encoding="utf-16"?>' + text).encode("utf-16"),
                        ('<?xml version="1.0" encoding="gbk"?>' + text).encode(),
                        ('<?xml version="1.0" encoding="no-such-codec"?>' + text).encode(),
                        b"\xef\xbb\xbf" + body,
                        text.encode("utf-32"),
                        body.replace(b"<xml>", b"<xml>\xff\xfe"),
                    ]
                )
            )
        elif how == "deep":
            depth = draw(st.integers(100, 5000))
            body = body.replace(b"</xml>", b"<a>" * depth + b"</a>" * depth + b"</xml>")
        elif how == "flip":
            body = b"\x00"
        elif how == "pad":  # whitespace between elements, up to the limit: still the same signed request
            body = body.replace(
                b"<Encrypt>", b" " * max(0, limit - len(body) - draw(st.integers(0, 50))) + b"<Encrypt>"
            )
        elif how == "huge":
            body = body + b" " * (limit + draw(st.integers(1, 100_000)))
        else:
            body = body.replace(
                b"<Encrypt>", b"<Encrypt>" + draw(st.sampled_from([b"A", b"====", b"\x00", b"&amp;"]))
            )
        return Request(method, path, params, body, base.signed_key)
    if where == "path":
        segment = draw(
            st.sampled_from(
                [
                    "0",
                    "-1",
                    "999",
                    "2147483648",
                    "9223372036854775807",
                    "9223372036854775808",
                    "1" * 40,
                    "١",
                    "",
                    "a",
                    "1/2",
                ]
            )
        )
        return Request(method, f"/wecom/callback/{segment}", params, body, base.signed_key)
    if where == "method":
        verb = draw(st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
        return Request(verb, path, params, body, base.signed_key)
    # the same signed request with the signature's letters in another case: still a replay of it
    params = [(n, v.upper() if n == "msg_signature" else v) for n, v in params]
    return Request(method, path, params, body, base.signed_key)


@pytest.fixture
async def target(rt: Runtime) -> AsyncIterator[tuple[httpx.AsyncClient, ConnectionKeys, int]]:
    connection, keys = await make_connection(rt)
    await make_account(rt, connection, OPEN_KFID)
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
    ) as client:
        yield client, keys, connection.id


async def _counts(rt: Runtime) -> tuple[int, int, int, set[str]]:
    async with rt.db.read() as session:
        events = int(await session.scalar(select(func.count()).select_from(CallbackEvent)) or 0)
        messages = int(await session.scalar(select(func.count()).select_from(Message)) or 0)
        jobs = int(await session.scalar(select(func.count()).select_from(Job)) or 0)
        keys = set((await session.scalars(select(CallbackEvent.replay_key))).all())
    return events, messages, jobs, {key for key in keys if key}


def _request_strategy(keys: ConnectionKeys, connection_id: int, now: int, limit: int) -> st.SearchStrategy:
    base = signed_request(keys, connection_id, now)
    return st.one_of(
        base,
        base.flatmap(lambda b: mutated(b, limit)),
        base.flatmap(lambda b: mutated(b, limit)).flatmap(lambda b: mutated(b, limit)),
        st.builds(
            Request,
            st.sampled_from(["GET", "POST"]),
            st.just(f"/wecom/callback/{connection_id}"),
            st.lists(
                st.tuples(
                    st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr", "x"]),
                    st.text(max_size=50),
                ),
                max_size=6,
            ),
            st.binary(max_size=500),
            st.none(),
        ),
        # a replay of one sent earlier in this example: (which, its signature in capitals?)
        st.tuples(st.integers(0, 2**16), st.booleans()),
    )


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_hostile_callbacks_never_5xx_and_store_only_signed_requests_once(
    rt: Runtime, target: tuple[httpx.AsyncClient, ConnectionKeys, int], data: st.DataObject
) -> None:
    client, keys, connection_id = target
    # Kept across examples, as the database is: every key we ever signed.
    genuine: set[str] = rt.__dict__.setdefault("_fuzz_genuine", set())
    limit = rt.settings.callback_max_body_bytes
    steps = data.draw(
        st.lists(
            _request_strategy(keys, connection_id, int(rt.clock.timestamp()), limit), min_size=1, max_size=3
        )
    )
    sent: list[Request] = []  # answered 200 in this example: what the replays replay
    for step in steps:
        if isinstance(step, tuple):
            if not sent:
                continue
            request = sent[step[0] % len(sent)]
            if step[1]:  # the same request, its signature's hex digits in capitals
                shout = [(n, v.upper() if n == "msg_signature" else v) for n, v in request.params]
                request = Request(request.method, request.path, shout, request.body, request.signed_key)
        else:
            request = step
        if request.signed_key is not None:
            genuine.add(request.signed_key)
        if await _send_and_check(rt, client, request, genuine):
            sent.append(request)


async def _send_and_check(
    rt: Runtime, client: httpx.AsyncClient, request: Request, genuine: set[str]
) -> bool:
    """Send one request and check the invariants; True when it was a POST answered 200."""
    before_events, _, before_jobs, before_keys = await _counts(rt)

    response = await client.request(request.method, request.path, params=request.params, content=request.body)

    events, messages, jobs, stored_keys = await _counts(rt)
    event(f"{request.method} {response.status_code} {response.text[:20]}")  # --hypothesis-show-statistics
    assert response.status_code < 500, (response.status_code, response.text, request)
    assert messages == 0  # a callback never stores messages itself: the signed pull does
    assert stored_keys <= genuine, f"stored an event from a request we did not sign: {request}"
    key = request.key()
    if key not in genuine or key in before_keys:
        # unsigned input (no one but us can sign), or a replay of a request already stored
        assert (events, jobs) == (before_events, before_jobs), request
    else:
        assert events - before_events <= 1 and stored_keys - before_keys <= {key}, request
    if response.status_code != 200:
        return False
    assert key in genuine, f"answered 200 to a request we did not sign: {request}"
    if request.method != "POST":
        return False
    assert key in stored_keys, request
    return True
