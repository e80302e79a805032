"""Keep each session's facts for reports (SessionRecord), from the timeline of each decision.

decide() already notes every move it makes (session_started, transfer_requested, state_changed,
session_ended); this folds those notes into one row per session as they happen, so a report
reads one small row per session instead of replaying timelines. The first servicer message
after the session reached a human gives the first-response time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.ingest.models import Message
from kefu.reception.core import TimelineEntry as Note
from kefu.reception.core.state import STATE_HUMAN, STATE_POOL
from kefu.reception.models import Conversation, SessionRecord

# A customer's message (or a servicer's, an app event) starts the session when WeCom got it; an
# app event or a servicer's message moves it then. A customer's message that leads Kefu to
# transfer: Kefu's move happens when Kefu makes it.
ORIGINS_STARTING = frozenset({3, 4, 5})
ORIGINS_MOVING = frozenset({4, 5})
# The customer asked for a human but no transfer followed (off hours, the queue at its cap): kept
# as the reason until a transfer happens, whose own reason then replaces it, so reports can tell
# these sessions from ones the AI resolved on its own.
ASKED_ONLY = {"off_hours_request": "off_hours", "queue_full": "queue_full"}
KINDS = frozenset({"session_started", "transfer_requested", "state_changed", "session_ended", *ASKED_ONLY})
ORIGIN_SERVICER = 5
# A move to a servicer nobody at Kefu asked for: the servicer took it (WeCom app, or wrote).
TAKEN_BY_SERVICER = "servicer_took"


def _wecom_time(note: Note, message: Message | None, origins: frozenset[int]) -> datetime:
    """When it happened in WeCom: a decision on a message Kefu pulled late (a backlog, a restart,
    a slow pull) notes Kefu's moment, but the session began when the customer wrote, and a take,
    transfer or end in the WeCom app happened at the event's time. Reports count by these."""
    if message is None or message.origin not in origins:
        return note.at
    return min(message.send_time, note.at)


def whole_seconds(start: datetime, end: datetime) -> int:
    """Rounded: WeCom's message times are whole seconds, Kefu's own moments are not."""
    return max(0, round((end - start).total_seconds()))


class _Rows:
    """The conversation's session rows this decision touches, read at most once each."""

    def __init__(self, session: Session, conversation: Conversation) -> None:
        self.session, self.conversation = session, conversation
        self.rows: dict[int, SessionRecord | None] = {}

    def get(self, session_no: int) -> SessionRecord | None:
        if session_no not in self.rows:
            query = select(SessionRecord).where(
                SessionRecord.conversation_id == self.conversation.id,
                SessionRecord.session_no == session_no,
            )
            self.rows[session_no] = self.session.execute(query).scalar_one_or_none()
        return self.rows[session_no]

    def start(self, session_no: int, kind: str, at: datetime) -> SessionRecord:
        row = self.get(session_no)
        if row is None:  # a session counted once, even if its start were noted again
            row = SessionRecord(
                conversation_id=self.conversation.id,
                account_id=self.conversation.account_id,
                session_no=session_no,
                kind=kind,
                started_at=at,
                started_hour=int(at.timestamp()) // 3600,
            )
            self.session.add(row)
            self.rows[session_no] = row
        return row


def _reason_open(row: SessionRecord) -> bool:
    """No transfer reason yet, or only that the customer asked (a transfer's reason wins)."""
    return row.transfer_reason is None or row.transfer_reason in ASKED_ONLY.values()


def _apply(row: SessionRecord, note: Note) -> None:
    detail = note.detail
    if note.kind in ASKED_ONLY:
        if row.transfer_reason is None:
            row.transfer_reason = ASKED_ONLY[note.kind]
    elif note.kind == "transfer_requested":
        if detail.get("target_state") in (STATE_POOL, STATE_HUMAN) and _reason_open(row):
            row.transfer_reason = str(detail.get("reason") or "other")[:32]
    elif note.kind == "state_changed":
        to_state, from_state = detail.get("to_state"), detail.get("from_state")
        if to_state == STATE_POOL and row.queued_at is None:
            row.queued_at = note.at
        if from_state == STATE_POOL and row.queued_at is not None and row.wait_seconds is None:
            row.wait_seconds = whole_seconds(row.queued_at, note.at)
            row.taken = to_state == STATE_HUMAN
        if to_state in (STATE_POOL, STATE_HUMAN) and _reason_open(row):
            # Nobody at Kefu asked: a servicer took it (or wrote); into the pool, WeCom moved it.
            row.transfer_reason = TAKEN_BY_SERVICER if to_state == STATE_HUMAN else "other"
        if to_state == STATE_HUMAN and row.assigned_at is None:
            row.assigned_at = note.at
            servicer = detail.get("servicer")
            row.servicer_userid = str(servicer) if servicer else None
    elif note.kind == "session_ended" and row.ended_at is None:
        row.ended_at = note.at
        row.end_reason = str(detail.get("reason") or "")[:32] or None
        servicer = detail.get("servicer")
        row.ended_servicer_userid = str(servicer) if servicer else None
        if row.queued_at is not None and row.wait_seconds is None:
            row.wait_seconds = whole_seconds(row.queued_at, note.at)


def record_sessions(
    session: Session,
    conversation: Conversation,
    *,
    session_before: int,
    session_after: int,
    timeline: Sequence[Note],
    message: Message | None,
    became_normal: bool = False,
) -> None:
    """Fold one decision's notes (and a servicer's message) into the session rows.

    `became_normal`: the customer rated, then went on writing in the session the rating click
    opened (the mirror's session_kind went rating_only → normal): it is a real session after all,
    and reports count it.
    A session that began before this record existed (an upgrade) has no row and is skipped."""
    notes = [note for note in timeline if note.kind in KINDS]
    replied = message is not None and message.origin == ORIGIN_SERVICER
    if not notes and not replied and not became_normal:
        return
    rows = _Rows(session, conversation)
    if became_normal:
        row = rows.get(session_after)
        if row is not None:
            row.kind = "normal"
    current = session_before
    for note in notes:
        if note.kind == "session_started":
            current = int(note.detail.get("session_no") or 0)
            at = _wecom_time(note, message, ORIGINS_STARTING)
            rows.start(current, str(note.detail.get("session_kind") or "normal"), at)
            continue
        row = rows.get(current)
        if row is not None:
            _apply(row, note.model_copy(update={"at": _wecom_time(note, message, ORIGINS_MOVING)}))
    if replied:
        assert message is not None
        row = rows.get(session_after)
        if row is not None and row.assigned_at is not None and row.first_response_seconds is None:
            row.first_response_seconds = whole_seconds(row.assigned_at, message.send_time)
