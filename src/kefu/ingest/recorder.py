"""Group commit for callbacks: concurrent requests share one write transaction.

SQLite has one writer and every statement through aiosqlite is a thread round trip,
so a transaction per callback caps the endpoint at a few hundred per second. Here
each request parses its envelope, then waits while a single drainer verifies,
decrypts and records everything queued so far in ONE transaction (one read of the
connections, one token update and one coalesced sync per account), run on SQLite's
writer thread in one round trip (`db.run_write`). Each caller
gets its own answer only after that transaction has committed, so a `success`
still means "durably recorded". A request already recorded (its replay key is stored, or
it came twice in one batch) is answered `success` and stores nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection
from kefu.db import table_of
from kefu.ingest.checks import field_too_long
from kefu.ingest.models import CallbackEvent
from kefu.ingest.service import record_callback, record_callbacks
from kefu.ingest.xml import BadXML, parse_flat_xml
from kefu.jobs.queue import add_job
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError

log = get_logger(__name__)
RETRY_CALLBACK_TASK = "ingest.retry_callback"
MAX_BATCH = 256


@dataclass(frozen=True)
class SignedCallback:
    connection_id: int
    msg_signature: str
    timestamp: str
    nonce: str
    encrypted: str

    @property
    def replay_key(self) -> str:
        """The same signature, timestamp and nonce: the same signed request again (WeCom re-sends
        it unchanged). Only compared once the signature has checked out. The signature is taken in
        lower case, as the check compares it: otherwise the same request with its hex digits in
        capitals would pass as new (found by the fuzz test)."""
        signature = self.msg_signature.lower()
        return hashlib.sha256(f"{signature}\n{self.timestamp}\n{self.nonce}".encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str


SUCCESS = Outcome(200, "success")
UNAVAILABLE = Outcome(503, "unavailable")
UNKNOWN_CONNECTION = Outcome(404, "unknown connection")


def crypto_of(rt: Runtime, corp_id: str, callback_token_enc: str, aes_key_enc: str) -> CallbackCrypto:
    """A connection's callback crypto, from its sealed columns."""
    return CallbackCrypto(rt.secrets.open(callback_token_enc), rt.secrets.open(aes_key_enc), corp_id)


def open_callback(
    connection_id: int, crypto: CallbackCrypto, item: SignedCallback, *, parse: bool = True
) -> Outcome | tuple[dict[str, str], str]:
    """Verify and decrypt one callback: its fields and plaintext, or the refusal to answer.
    (`parse=False` for URL verification, whose plaintext is not XML.)"""
    try:
        crypto.verify(item.msg_signature, item.timestamp, item.nonce, item.encrypted)
        xml = crypto.decrypt(item.encrypted)
        fields = parse_flat_xml(xml) if parse else {}
    except CallbackCryptoError as exc:
        log.warning("callback.refused", connection_id=connection_id, reason=str(exc), code=exc.code)
        forged = exc.code in (CallbackCryptoError.SIGNATURE, CallbackCryptoError.RECEIVEID)
        return Outcome(403 if forged else 400, "refused")
    except BadXML as exc:
        log.warning("callback.bad_inner_xml", connection_id=connection_id, reason=str(exc))
        return Outcome(400, "bad xml")
    too_long = field_too_long(fields)
    if too_long is not None:
        log.warning("callback.field_too_long", connection_id=connection_id, field=too_long)
        return Outcome(400, f"{too_long} too long")
    return fields, xml


class CallbackRecorder:
    def __init__(self, rt: Runtime, *, max_batch: int = MAX_BATCH) -> None:
        self.rt = rt
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[SignedCallback, asyncio.Future[Outcome]]] | None = None
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: SignedCallback) -> Outcome:
        if self._queue is None or self._drainer is None or self._drainer.done():
            self._queue = asyncio.Queue()
            self._drainer = asyncio.create_task(self._drain(self._queue), name="callback-recorder")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer

    async def _drain(self, queue: asyncio.Queue[tuple[SignedCallback, asyncio.Future[Outcome]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await self._record([item for item, _ in batch])
            except Exception:  # never let the drainer die: its waiters would hang
                log.exception("callback.recorder_failed", size=len(batch))
                outcomes = [UNAVAILABLE] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def _record(self, items: list[SignedCallback]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        opened: list[Opened] = []
        now = self.rt.clock.now()
        try:
            # One round trip to SQLite's writer thread for the whole batch (db.run_write).
            await self.rt.db.run_write(_open_and_record, self.rt, items, outcomes, opened, now, urgent=True)
            for one in opened:
                outcomes[one.index] = SUCCESS
        except OperationalError:
            # The database itself is unavailable: nothing could be kept, so let WeCom re-send.
            log.exception("callback.database_unavailable")
            return [outcome or UNAVAILABLE for outcome in outcomes]
        except Exception:  # our bug somewhere in the batch: each one alone, so only the faulty one fails
            log.exception("callback.batch_failed", size=len(items))
            for one in opened:
                outcomes[one.index] = await self._record_one(one, now=now)
            for index, item in enumerate(items):
                if outcomes[index] is None:  # the batch failed before this one was opened
                    outcomes[index] = await self._open_one(item, now=now)
        return [outcome or UNAVAILABLE for outcome in outcomes]

    async def _open_one(self, item: SignedCallback, *, now: datetime) -> Outcome:
        """A batch of one. If it fails before the signature is checked, nothing can be kept for
        retry: this one alone gets 503, and WeCom re-sends it."""
        outcomes: list[Outcome | None] = [None]
        opened: list[Opened] = []
        try:
            await self.rt.db.run_write(_open_and_record, self.rt, [item], outcomes, opened, now, urgent=True)
            return outcomes[0] or SUCCESS
        except OperationalError:
            log.exception("callback.database_unavailable", connection_id=item.connection_id)
            return UNAVAILABLE
        except Exception:
            if opened:
                return await self._record_one(opened[0], now=now)
            log.exception("callback.open_failed", connection_id=item.connection_id)
            return UNAVAILABLE

    async def _record_one(self, one: Opened, *, now: datetime) -> Outcome:
        """Record alone; if that fails too (our bug), keep the event for retry and still answer 200:
        our bug must never make WeCom re-send."""
        try:
            await self.rt.db.run_write(_record_alone, one, now)
            return SUCCESS
        except OperationalError:
            log.exception("callback.database_unavailable", connection_id=one.connection_id)
            return UNAVAILABLE
        except Exception as exc:
            log.exception("callback.handler_failed", connection_id=one.connection_id)
            error = f"{type(exc).__name__}: {exc}"
        try:
            await self.rt.db.run_write(_keep_for_retry, one, error, now)
        except OperationalError:
            log.exception("callback.database_unavailable", connection_id=one.connection_id)
            return UNAVAILABLE
        except Exception:  # nothing kept: WeCom must re-send this one (never fail the drainer's waiters)
            log.exception("callback.keep_failed", connection_id=one.connection_id)
            return UNAVAILABLE
        return SUCCESS


@dataclass(frozen=True)
class Opened:
    """A callback that passed the signature check and decrypted: its place in the batch."""

    index: int
    connection_id: int
    fields: dict[str, str]
    xml: str
    replay_key: str


# Built once, on the tables (Core: `table_of`): they run for every batch of callbacks.
_CONNECTIONS = table_of(Connection).c
_CALLBACK_KEYS = select(
    _CONNECTIONS.id, _CONNECTIONS.corp_id, _CONNECTIONS.callback_token_enc, _CONNECTIONS.aes_key_enc
).where(_CONNECTIONS.id.in_(bindparam("ids", expanding=True)))
_EVENTS = table_of(CallbackEvent).c
_RECORDED = select(_EVENTS.connection_id, _EVENTS.replay_key).where(
    _EVENTS.connection_id.in_(bindparam("connection_ids", expanding=True)),
    _EVENTS.replay_key.in_(bindparam("replay_keys", expanding=True)),
)


def _open_and_record(
    session: Session,
    rt: Runtime,
    items: list[SignedCallback],
    outcomes: list[Outcome | None],
    opened: list[Opened],
    now: datetime,
) -> None:
    """On the writer thread: verify and decrypt the batch, then record what opened. Refusals go
    to `outcomes` and the opened callbacks to `opened` before anything is written, so the caller
    still has both if the recording fails."""
    ids = list({item.connection_id for item in items})
    # Secrets are read and decrypted once per connection per batch.
    keys = session.execute(_CALLBACK_KEYS, {"ids": ids}).all()
    cryptos = {key.id: crypto_of(rt, key.corp_id, key.callback_token_enc, key.aes_key_enc) for key in keys}
    for index, item in enumerate(items):
        crypto = cryptos.get(item.connection_id)
        result = UNKNOWN_CONNECTION if crypto is None else open_callback(item.connection_id, crypto, item)
        if isinstance(result, Outcome):
            outcomes[index] = result
        else:
            opened.append(Opened(index, item.connection_id, *result, item.replay_key))
    # A replay (recorded before, or twice in this batch) is answered with the batch's success.
    seen = _recorded(session, opened)
    fresh: list[Opened] = []
    for one in opened:
        key = (one.connection_id, one.replay_key)
        if key in seen:
            log.info("callback.replay", connection_id=one.connection_id)
        else:
            seen.add(key)
            fresh.append(one)
    record_callbacks(
        session, [(one.connection_id, one.fields, one.xml, one.replay_key) for one in fresh], now=now
    )


def _recorded(session: Session, opened: list[Opened]) -> set[tuple[int, str]]:
    """(connection id, replay key) of those already stored, by this process or any other."""
    if not opened:
        return set()
    rows = session.execute(
        _RECORDED,
        {
            "connection_ids": list({one.connection_id for one in opened}),
            "replay_keys": list({one.replay_key for one in opened}),
        },
    )
    return {(connection_id, key) for connection_id, key in rows if key is not None}


def _record_alone(session: Session, one: Opened, now: datetime) -> None:
    if not _recorded(session, [one]):  # its original may have been recorded since: then it is a replay
        record_callback(session, one.connection_id, one.fields, one.xml, now=now, replay_key=one.replay_key)


def _keep_for_retry(session: Session, one: Opened, error: str, now: datetime) -> None:
    if _recorded(session, [one]):
        return
    row = CallbackEvent(
        connection_id=one.connection_id,
        event=(one.fields.get("Event") or "?")[:64],
        open_kfid=one.fields.get("OpenKfId") or None,
        xml=one.xml,
        status="pending",
        error=error[:2000],
        received_at=now,
        replay_key=one.replay_key,
    )
    session.add(row)
    session.flush()
    add_job(session, RETRY_CALLBACK_TASK, {"event_id": row.id}, now=now)
