"""The `reception.deliver` job: one outbox row → one WeCom call, its outcome recorded and fed back.

Runs under the conversation's lock, so a conversation's actions go out in the order
decide() chose them. Each try is recorded on the row before the call (`tries`, and the
rendered wording and msgid, so a redo re-sends the same message under the same msgid), in
the transaction that reads the row unless the AI words the message first; the outcome is
written, with the feed-back job, in one transaction after the call (those records:
kefu.reception.delivery_records).

- send_msg: success → done (Kefu's own message stored, since sync_msg never returns it);
  95018/95001/95002 → refused, fed back (decide reconciles), never re-sent; an unknown
  outcome → possibly_delivered (stored, flagged), never re-sent under a new msgid; other
  errors → retried with backoff under the same msgid, then failed.
- send_msg_on_event: the job's deadline is the code's (dropped past it); any errcode →
  refused ("code unusable"), never retried.
- service_state/trans: success → TransferDone(msg_code); a refusal → TransferRefused; an
  unsettled answer that service_state/get shows did not happen, or a transport error → retried
  with backoff (each retry looks first), then TransferRefused(-1), which reconciles. Decided on
  the pool or a servicer's session, it looks first too: changed in the WeCom app meanwhile →
  dropped, and WeCom's state fed back as Reconciled.
- service_state/get → Reconciled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection, KfAccount
from kefu.accounts.sync import enqueue_servicer_refresh
from kefu.ingest.models import Message
from kefu.jobs.registry import task
from kefu.reception import service
from kefu.reception.core import (
    Reconcile,
    Reconciled,
    Send,
    SendOnEvent,
    SendRefused,
    Transfer,
    TransferDone,
    TransferRefused,
    to_outbound,
)
from kefu.reception.delivery_records import Outbox, _begin_try, _finish, _record_try, _retry_or_fail
from kefu.reception.models import Conversation, ConversationAction
from kefu.reception.shell import ACTION_ADAPTER, DELIVER_TASK, msgid_for
from kefu.reception.wording import needs_ai, render, render_fixed
from kefu.runtime import Runtime
from kefu.wecom.errors import SendOutcomeUnknown, StateTransferUnsettled, WeComError, WeComTransportError
from kefu.wecom.results import ServiceState

SEND_REFUSED = frozenset({95018, 95001, 95002})  # the mirror was wrong: reconcile, never re-send
TRANS_REFUSED = frozenset({95016, 95014, 95019, 95013})
NOT_A_SERVICER = 95014  # not in the account's reception list, or not activated in WeCom
UNSETTLED = -1  # fed back as the errcode of a trans whose outcome WeCom left open
CANCELLED = 0  # fed back as the errcode of an idle end Kefu called off itself


@task(DELIVER_TASK, max_attempts=10)
async def deliver(rt: Runtime, *, action_id: int) -> None:
    outbox = await rt.db.run_write(_take_outbox, action_id)
    if outbox is None:
        return  # already settled (a redo) or deleted
    # Every line this delivery logs (retries, phrasing, WeCom's answers) names its conversation.
    structlog.contextvars.bind_contextvars(conversation_id=outbox.conversation.id)
    if isinstance(outbox.action, Send | SendOnEvent):
        await _send(rt, outbox)
    elif isinstance(outbox.action, Transfer):
        await _transfer(rt, outbox)
    else:
        await _reconcile(rt, outbox)


# Built once, with the id bound when it runs: one joined SELECT instead of four gets.
_OUTBOX_QUERY = (
    select(ConversationAction, Conversation, KfAccount, Connection)
    .join(Conversation, Conversation.id == ConversationAction.conversation_id)
    .join(KfAccount, KfAccount.id == Conversation.account_id)
    .join(Connection, Connection.id == KfAccount.connection_id)
    .where(ConversationAction.id == bindparam("action_id"), ConversationAction.status == "pending")
)


def _take_outbox(session: Session, action_id: int) -> Outbox | None:
    """The row, its conversation, account and connection (one statement), and its try begun in
    the same transaction when nothing has to come first (one write instead of a read and a write)."""
    found = session.execute(_OUTBOX_QUERY, {"action_id": action_id}).first()
    if found is None:
        return None  # settled, deleted, or its conversation, account or connection is gone
    row, conversation, account, connection = found
    action = ACTION_ADAPTER.validate_python(row.payload["action"])
    if not isinstance(action, Send | SendOnEvent | Transfer | Reconcile):
        return None  # local actions are applied when decided
    facts = service.shell_facts(session, conversation, action) if isinstance(action, SendOnEvent) else {}
    changes: dict[str, Any] | None = {}
    if isinstance(action, Send | SendOnEvent) and row.payload.get("rendered") is None:
        # Fixed wording is rendered here; AI wording first, outside any transaction.
        changes = None if needs_ai(action) else {"rendered": render_fixed(action, facts)}
    elif isinstance(action, Transfer) and row.payload.get("idle_since"):
        changes = None  # the customer's messages are looked at first (see _transfer)
    attempt = None if changes is None else _record_try(session, action_id, changes)
    msgid = (row.msgid or msgid_for(row.id, conversation.id)) if row.kind in service.SEND_KINDS else None
    return Outbox(
        action_id, action, dict(row.payload), msgid, conversation, account, connection, facts, attempt
    )


def _client(rt: Runtime, outbox: Outbox) -> Any:
    from kefu.accounts.service import wecom_client

    return wecom_client(rt, outbox.connection)


# --- sends ------------------------------------------------------------------------------------


async def _send(rt: Runtime, outbox: Outbox) -> None:
    action = outbox.action
    assert isinstance(action, Send | SendOnEvent) and outbox.msgid is not None
    rendered = outbox.payload.get("rendered")
    if rendered is None:
        rendered = await render(rt, outbox.account.id, outbox.facts, action)
    try:
        message = to_outbound(action.content, rendered)
    except ValueError as exc:
        await _finish(rt, outbox, "failed", error=f"nothing to send: {exc}")
        return
    attempt = outbox.attempt or await _begin_try(rt, outbox.action_id, rendered=rendered)
    if attempt is None:
        return
    client = _client(rt, outbox)
    on_event = isinstance(action, SendOnEvent)
    try:
        if isinstance(action, SendOnEvent):
            await client.send_msg_on_event(code=action.code, msgid=outbox.msgid, message=message)
        else:
            await client.send_msg(
                touser=outbox.conversation.external_userid,
                open_kfid=outbox.account.open_kfid,
                msgid=outbox.msgid,
                message=message,
            )
    except SendOutcomeUnknown as exc:
        await _finish(rt, outbox, "possibly_delivered", error=str(exc), sent=message)
    except WeComError as exc:
        if exc.errcode in SEND_REFUSED or (on_event and not attempt.uncertain):
            refused = SendRefused(
                action_kind="send_on_event" if on_event else "send",
                errcode=exc.errcode,
                purpose=action.purpose,
            )
            await _finish(rt, outbox, "refused", errcode=exc.errcode, error=str(exc), feed=refused)
        elif attempt.uncertain:
            # An earlier try may have gone through (e.g. "msgid already used" now): never send again.
            error = f"an earlier try may have been delivered; this one answered: {exc}"
            await _finish(rt, outbox, "possibly_delivered", errcode=exc.errcode, error=error, sent=message)
        else:
            await _retry_or_fail(rt, outbox, attempt, str(exc), errcode=exc.errcode)
    except WeComTransportError as exc:  # no access token: nothing was sent
        await _retry_or_fail(rt, outbox, attempt, str(exc))
    else:
        await _finish(rt, outbox, "done", sent=message)


# --- session state ----------------------------------------------------------------------------


async def _transfer(rt: Runtime, outbox: Outbox) -> None:
    action = outbox.action
    assert isinstance(action, Transfer)
    idle_since = outbox.payload.get("idle_since")
    if idle_since and await _customer_wrote_since(rt, outbox, datetime.fromisoformat(idle_since)):
        # The customer wrote after the idle check was decided: ending the session now would cut them off.
        cancelled = TransferRefused(target_state=action.target_state, errcode=CANCELLED)
        await _finish(
            rt, outbox, "dropped", error="the customer wrote again before the idle end", feed=cancelled
        )
        return
    attempt = outbox.attempt or await _begin_try(rt, outbox.action_id)
    if attempt is None:
        return
    client = _client(rt, outbox)
    who = {"open_kfid": outbox.account.open_kfid, "external_userid": outbox.conversation.external_userid}
    arrived = TransferDone(target_state=action.target_state, servicer_userid=action.servicer_userid)
    seen = outbox.payload.get("seen")  # the pool or a servicer's session, as Kefu saw it
    try:
        if attempt.number > 1 or seen:
            # An earlier try may have moved it (its answer lost, or settled by a get that failed
            # too); a second trans would be refused, so look first. Decided on the pool or a
            # servicer's session: look whether WeCom still shows it so.
            now = await client.service_state_get(**who)
            if now.state == action.target_state and (
                action.target_state != 3 or now.servicer_userid == action.servicer_userid
            ):
                await _finish(rt, outbox, "done", error="settled by service_state/get", feed=arrived)
                return
            shown = {"state": now.state, "servicer": now.servicer_userid if now.state == 3 else None}
            if seen and shown != seen:
                # Taken, transferred or ended in the WeCom app meanwhile: a trans now would move
                # the customer away from whoever has them, or end another session. WeCom wins.
                await _finish(rt, outbox, "dropped", error=_changed(now), feed=_found(now))
                return
        result = await client.service_state_trans(
            **who, service_state=action.target_state, servicer_userid=action.servicer_userid
        )
    except StateTransferUnsettled as exc:
        # No clear answer, and service_state/get shows it did not happen: safe to try again (the
        # next try looks first). Refusing here lost the customer's request for a human.
        refused = TransferRefused(target_state=action.target_state, errcode=UNSETTLED)
        await _retry_or_fail(rt, outbox, attempt, str(exc), errcode=UNSETTLED, feed=refused)
    except WeComError as exc:
        refused = TransferRefused(target_state=action.target_state, errcode=exc.errcode)
        if exc.errcode in TRANS_REFUSED:
            if exc.errcode == NOT_A_SERVICER:
                # Removed from the account in the WeCom admin, say: read WeCom's list again, so
                # the next customer is not first routed to them and refused too.
                await rt.db.run_write(enqueue_servicer_refresh, outbox.account.id, now=rt.clock.now())
            await _finish(rt, outbox, "refused", errcode=exc.errcode, error=str(exc), feed=refused)
        else:
            await _retry_or_fail(rt, outbox, attempt, str(exc), errcode=exc.errcode, feed=refused)
    except WeComTransportError as exc:
        refused = TransferRefused(target_state=action.target_state, errcode=UNSETTLED)
        await _retry_or_fail(rt, outbox, attempt, str(exc), feed=refused)
    else:
        done = arrived.model_copy(update={"msg_code": result.msg_code})
        await _finish(rt, outbox, "done", feed=done)


def _changed(now: ServiceState) -> str:
    who = f" with {now.servicer_userid}" if now.state == 3 and now.servicer_userid else ""
    return f"the session changed before the transfer: WeCom shows state {now.state}{who}"


def _found(now: ServiceState) -> Reconciled:
    return Reconciled(wecom_state=now.state, servicer_userid=now.servicer_userid)  # type: ignore[arg-type]


async def _customer_wrote_since(rt: Runtime, outbox: Outbox, since: datetime) -> bool:
    async with rt.db.read() as session:
        found = await session.scalar(
            select(Message.id)
            .where(
                Message.account_id == outbox.account.id,
                Message.external_userid == outbox.conversation.external_userid,
                Message.origin == 3,
                Message.send_time > since,
            )
            .limit(1)
        )
    return found is not None


async def _reconcile(rt: Runtime, outbox: Outbox) -> None:
    attempt = outbox.attempt or await _begin_try(rt, outbox.action_id)
    if attempt is None:
        return
    try:
        now = await _client(rt, outbox).service_state_get(
            open_kfid=outbox.account.open_kfid, external_userid=outbox.conversation.external_userid
        )
    except (WeComError, WeComTransportError) as exc:
        await _retry_or_fail(rt, outbox, attempt, str(exc), errcode=getattr(exc, "errcode", None))
        return
    if now.state not in (0, 1, 2, 3, 4):
        await _finish(rt, outbox, "failed", error=f"service_state/get answered state {now.state}")
        return
    answer = Reconciled(wecom_state=now.state, servicer_userid=now.servicer_userid)  # type: ignore[arg-type]
    await _finish(rt, outbox, "done", feed=answer)
