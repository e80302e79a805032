"""Keep each session's facts for reports (SessionRecord), from the timeline of each decision.

decide() already notes every move it makes (session_started, transfer_requested, state_changed,
session_ended); this folds those notes into one row per session as they happen, so a report
reads one small row per session instead of replaying timelines. The first servicer message
after the session reached a human gives the first-response time. Each servicer who held the
session has a SessionServicer row beside it: passed on to or from a colleague, and whether they
wrote. The delivery of an ending that carried the survey marks it sent (`record_survey_sent`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.ingest.models import Message
from kefu.reception.core import Menu, SendOnEvent, parse_rating
from kefu.reception.core import TimelineEntry as Note
from kefu.reception.core.state import STATE_ENDED, STATE_HUMAN, STATE_POOL
from kefu.reception.models import Conversation, SessionRecord, SessionServicer

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
        self.held: dict[int, dict[str, SessionServicer]] = {}

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
                servicer_transfers=0,
            )
            self.session.add(row)
            self.rows[session_no] = row
        return row

    def servicers(self, session_no: int) -> dict[str, SessionServicer]:
        """The servicers who held the session so far, read once per decision."""
        if session_no not in self.held:
            query = select(SessionServicer).where(
                SessionServicer.conversation_id == self.conversation.id,
                SessionServicer.session_no == session_no,
            )
            self.held[session_no] = {s.servicer_userid: s for s in self.session.execute(query).scalars()}
        return self.held[session_no]

    def servicer(self, session_no: int, userid: str, at: datetime) -> SessionServicer:
        held = self.servicers(session_no)
        if userid not in held:
            held[userid] = SessionServicer(
                conversation_id=self.conversation.id,
                session_no=session_no,
                servicer_userid=userid,
                assigned_at=at,
                transferred_in=False,
                transferred_out=False,
            )
            self.session.add(held[userid])
        return held[userid]


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
        elif detail.get("target_state") == STATE_ENDED:
            # Kefu's own end (idle_timeout, queue_timeout, ended_by_…) is asked here and noted
            # by a later decision only as Kefu's (kefu_ended): why is kept for reports until then.
            row.end_requested = str(detail.get("reason") or "")[:32] or None
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
    servicer_before: str | None = None,
    became_normal: bool = False,
) -> None:
    """Fold one decision's notes (and a servicer's message) into the session rows.

    `servicer_before`: who held the session (state 3) when the decision began: a move to another
    servicer is theirs to pass on.
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
    current, holder = session_before, servicer_before
    for note in notes:
        if note.kind == "session_started":
            current, holder = int(note.detail.get("session_no") or 0), None
            at = _wecom_time(note, message, ORIGINS_STARTING)
            rows.start(current, str(note.detail.get("session_kind") or "normal"), at)
            continue
        row = rows.get(current)
        moved = note.model_copy(update={"at": _wecom_time(note, message, ORIGINS_MOVING)})
        if row is not None:
            _apply(row, moved)
        if note.kind == "state_changed":
            servicer = note.detail.get("servicer")
            to_human = note.detail.get("to_state") == STATE_HUMAN and bool(servicer)
            if row is not None and to_human:
                _held_by(rows, row, current, holder, str(servicer), moved.at)
            holder = str(servicer) if to_human else None
    if replied:
        assert message is not None
        row = rows.get(session_after)
        if row is not None and row.assigned_at is not None and row.first_response_seconds is None:
            row.first_response_seconds = whole_seconds(row.assigned_at, message.send_time)
        if row is not None and message.servicer_userid:
            wrote = rows.servicers(session_after).get(message.servicer_userid)
            if wrote is not None and wrote.replied_at is None:
                wrote.replied_at = message.send_time


def _held_by(
    rows: _Rows, row: SessionRecord, session_no: int, holder: str | None, servicer: str, at: datetime
) -> None:
    """`servicer` has the session now; from `holder`, a colleague, it is a move between servicers
    (转接: in the WeCom app, or handed over in Kefu)."""
    taker = rows.servicer(session_no, servicer, at)
    if holder is None or holder == servicer:
        return
    row.servicer_transfers += 1
    rows.servicer(session_no, holder, at).transferred_out = True
    taker.transferred_in = True


def record_survey_sent(session: Session, conversation_id: int, action: SendOnEvent) -> None:
    """An ending WeCom took (delivered, or possibly: the answer was lost) that carried the
    satisfaction survey: the session it rates could be rated. Its click ids name that session."""
    content = action.content
    if action.purpose != "ending" or not isinstance(content, Menu) or not content.choices:
        return
    rated = parse_rating(content.choices[0].id)
    if rated is None:
        return
    query = select(SessionRecord).where(
        SessionRecord.conversation_id == conversation_id, SessionRecord.session_no == rated.session_no
    )
    row = session.execute(query).scalar_one_or_none()
    if row is not None:
        row.survey_sent = True
