"""Rules for customer messages (origin 3): AI first / AI only / human only, transfers, off hours,
non-text, ratings, a paused account, and silence while the pool or a human holds the session."""

from __future__ import annotations

from typing import Literal

from kefu.ai.builtin import DEFAULT_NOT_SURE_TEXT, DEFAULT_NOT_SURE_TEXT_NO_BUTTON
from kefu.ai.provider import Answer
from kefu.reception.core.actions import RecordFollowUp, RecordRating, Text
from kefu.reception.core.inbound import CustomerNonText, CustomerText
from kefu.reception.core.messages import (
    RATING_THANKS_TEXT,
    TRANSFER_CLICK_ID,
    RatingClick,
    answer_content,
    matches_keyword,
    normalise,
    off_hours_phrase,
    parse_rating,
    phrase_for,
    without_keywords,
)
from kefu.reception.core.mirror import Context
from kefu.reception.core.state import (
    KEEP_RATED_SESSIONS,
    OWNER_OF_STATE,
    SENDABLE_STATES,
    STATE_ENDED,
    STATE_HUMAN,
    STATE_NEW,
)

# What a customer message leads to, decided before anything is sent (wants_ai_answer reads it).
Plan = Literal["rating", "paused", "stored", "transfer", "ai_answer", "non_text_reply", "held_back"]


def customer_wrote(ctx: Context, inbound: CustomerText | CustomerNonText, *, rating: bool) -> None:
    """Any customer message: 4 → 0 starts a new session; the 48 h window and 5 sends reopen."""
    sent_at = inbound.sent_at
    ctx.expire(sent_at)
    state = ctx.state
    if state.wecom_state == STATE_ENDED:
        ctx.start_session(sent_at, kind="rating_only" if rating else "normal", reason="customer_message")
        ctx.move(STATE_NEW, reason="customer_message")
    elif state.ended_locally:
        # Kefu closed the last session but WeCom kept it open: a new one in Kefu's records only.
        ctx.start_session(None, kind="rating_only" if rating else "normal", reason="customer_message")
        ctx.update(owner=OWNER_OF_STATE[state.wecom_state])
    elif not rating and state.session_kind == "rating_only":
        # The customer rated, then went on writing: a real session after all.
        ctx.update(session_kind="normal")
    # WeCom counts the quota from the newest message it received: acting on an older one while
    # newer ones wait (Kefu catching up), the counter runs from the newest, set once for it to
    # what WeCom already counts against it (sends that went out after it, or are still to go).
    backlog = inbound.backlog
    newest_msgid, newest_at, counted = inbound.msgid, sent_at, 0
    if backlog is not None and backlog.newest_at >= sent_at:
        newest_msgid, newest_at, counted = backlog.newest_msgid, backlog.newest_at, backlog.sends_after_newest
    last = ctx.state.last_customer_message_at
    reopens = last is None or newest_at >= last  # an older message processed late reopens nothing
    if reopens and newest_msgid != ctx.state.quota_msgid:
        activity = ctx.state.last_activity_at
        ctx.update(
            last_customer_message_at=newest_at,
            sends_since_customer_message=counted,
            quota_msgid=newest_msgid,
            window_refused=False,
            last_activity_at=newest_at if activity is None or newest_at > activity else activity,
        )
    ctx.expire(ctx.now)  # processed late: the session may have run out since


def rating_in(ctx: Context, inbound: CustomerText | CustomerNonText) -> RatingClick | None:
    """The survey answer this message is, read before `customer_wrote`: a tap on a rating, or one
    of the survey's labels typed instead (「不满意！」: width, case and punctuation aside) as the
    first message after the ending that carried the survey, while that session is unrated."""
    if not isinstance(inbound, CustomerText):
        return None
    if inbound.menu_id:
        return parse_rating(inbound.menu_id)
    state = ctx.state
    last = state.recent_sessions[-1] if state.recent_sessions else None
    if (
        last is None
        or state.wecom_state != STATE_ENDED
        or last.session_no != state.session_no
        or not (last.ending_sent and last.served)
        or last.session_no in state.rated_sessions
    ):
        return None
    survey, typed = ctx.settings.messages.survey, _label_key(inbound.text)
    for i, option in enumerate(survey.options if survey.mode != "none" else ()):
        if _label_key(option.label) == typed:
            return RatingClick(session_no=last.session_no, option=i, score=option.score)
    return None


def _label_key(text: str) -> str:
    return "".join(ch for ch in normalise(text) if ch.isalnum())


def plan(ctx: Context, inbound: CustomerText | CustomerNonText, rating: RatingClick | None) -> Plan:
    """The rule that applies to this message, on the mirror already updated by `customer_wrote`
    (`rating`: what `rating_in` read before it)."""
    if rating is not None:
        return "rating"
    settings, state = ctx.settings, ctx.state
    if not settings.enabled:
        return "paused"
    if state.wecom_state not in SENDABLE_STATES or state.transfer_pending:
        return "stored"  # queued or with a human: shown to servicers, never answered by Kefu
    mode = settings.reception.mode
    if mode == "human_only":
        return "transfer"
    newer = inbound.backlog.newer if inbound.backlog is not None else 0
    # Catching up on several messages: keep the quota for the later ones, answered in turn.
    held_back = newer > 0 and 0 < state.sends_left(ctx.now) <= newer
    if isinstance(inbound, CustomerNonText):
        return "held_back" if held_back else "non_text_reply"
    if mode == "ai_first" and _asks_for_human(ctx, inbound) and not _asks_more_off_hours(ctx, inbound):
        return "transfer"
    if not state.can_send(ctx.now):
        return "stored"
    return "held_back" if held_back else "ai_answer"


def _asks_more_off_hours(ctx: Context, inbound: CustomerText) -> bool:
    """A keyword request off hours, once the off-hours message went, that asks more than the
    keyword (「人工客服什么时候上班」): its request is recorded and the AI answers the rest, where
    the request alone would get nothing (the off-hours message goes once a session)."""
    if inbound.menu_id == TRANSFER_CLICK_ID or not ctx.state.off_hours_notified:
        return False
    if ctx.settings.calendar.is_open(ctx.now):
        return False
    rest = without_keywords(inbound.text, ctx.settings.reception.keyword_transfer.keywords)
    return any(ch.isalnum() for ch in rest)


def _why_human(ctx: Context, inbound: CustomerText | CustomerNonText) -> str:
    """What made this message a transfer, kept on the record for reports: human_only, the
    transfer button (offered by setting, or after a not-sure streak), or a keyword."""
    if _human_only(ctx) or not isinstance(inbound, CustomerText):
        return "human_only"
    if inbound.menu_id == TRANSFER_CLICK_ID:
        streak = ctx.settings.reception.not_sure_streak
        if streak.enabled and ctx.state.not_sure_streak >= streak.count:
            return "not_sure_streak"
        return "button"
    return "keyword"


def _asks_for_human(ctx: Context, inbound: CustomerText) -> bool:
    if inbound.menu_id == TRANSFER_CLICK_ID:
        return True
    keywords = ctx.settings.reception.keyword_transfer
    return keywords.enabled and matches_keyword(inbound.text, keywords.keywords) is not None


def on_customer_message(ctx: Context, inbound: CustomerText | CustomerNonText) -> None:
    rating = rating_in(ctx, inbound)
    session_before = ctx.state.session_no
    customer_wrote(ctx, inbound, rating=rating is not None)
    if ctx.state.leaving_message == "off_hours" and ctx.settings.calendar.is_open(ctx.now):
        ctx.update(leaving_message=None)  # open again: they can ask for a human, not leave a 留言
    if ctx.state.session_no != session_before and rating is None:
        last = ctx.state.recent_sessions[-1] if ctx.state.recent_sessions else None
        if last is not None and last.queue_timeout:  # they come back after waiting in vain
            ctx.update(leaving_message="queue_timeout")
    match plan(ctx, inbound, rating):
        case "rating":
            assert rating is not None
            _rating(ctx, rating, inbound.msgid)
        case "paused":
            paused(ctx)
        case "stored":
            ctx.note("customer_message_stored", msgid=inbound.msgid, state=ctx.state.wecom_state)
            if ctx.state.wecom_state == STATE_HUMAN and ctx.state.awaiting_reply_since is None:
                ctx.update(awaiting_reply_since=inbound.sent_at)  # now the servicer owes a reply
        case "held_back":
            assert inbound.backlog is not None
            ctx.note("answer_held_back", msgid=inbound.msgid, newer=inbound.backlog.newer)
        case "transfer":
            request_human(ctx, reason=_why_human(ctx, inbound))
        case "non_text_reply":
            setting = ctx.settings.reception.non_text_reply
            ctx.send("non_text_reply", phrase_for(setting, "non_text"))
        case "ai_answer":
            assert isinstance(inbound, CustomerText)
            if ctx.settings.reception.mode == "ai_first" and _asks_for_human(ctx, inbound):
                request_human(ctx, reason="keyword")  # off hours, told already: noted, nothing sent
            _ai_answer(ctx, inbound.ai_answer)
    reason = ctx.state.leaving_message
    if reason is not None and rating is None:
        ctx.actions.append(RecordFollowUp(msgid=inbound.msgid, reason=reason))


def _human_only(ctx: Context) -> bool:
    return ctx.settings.reception.mode == "human_only"


def paused(ctx: Context) -> None:
    """A disabled account: no AI, no routing; the paused message once per session."""
    if ctx.state.paused_notified:
        return
    ctx.update(paused_notified=True)
    ctx.send("paused", phrase_for(ctx.settings.messages.paused, "paused"))


def request_human(ctx: Context, *, reason: str) -> None:
    """The customer wants a human: route, or off hours say so once and maybe wait for opening."""
    if ctx.settings.calendar.is_open(ctx.now):
        ctx.route(reason=reason)
        return
    hours = ctx.settings.hours
    ctx.note("off_hours_request", wait_for_opening=hours.wait_for_opening)
    ctx.update(leaving_message="off_hours")
    if hours.wait_for_opening:
        ctx.update(waiting_for_opening=True)
    if not ctx.state.off_hours_notified:
        ctx.update(off_hours_notified=True)
        ctx.send("off_hours", off_hours_phrase(ctx.settings, ctx.now))


def _ai_answer(ctx: Context, answer: Answer | None) -> None:
    """ONE message: the answer, with the transfer button when AI-first offers it in reception
    hours (off hours no human can take it: a not-sure reply says when they are back instead)."""
    settings = ctx.settings
    if answer is None:  # the AI failed or timed out in the shell: say we are not sure
        answer = Answer(text=settings.not_sure_text, confidence=0.0, entry=None, not_sure=True)
    if answer.small_talk is not None:
        _small_talk(ctx, answer)
        return
    text = answer.text.strip() or settings.not_sure_text
    streak = ctx.state.not_sure_streak + 1 if answer.not_sure else 0
    ctx.update(not_sure_streak=streak)
    reception = settings.reception
    button: str | None = None
    if reception.mode == "ai_first":
        offer_after_streak = (
            answer.not_sure
            and reception.not_sure_streak.enabled
            and streak >= reception.not_sure_streak.count
        )
        if reception.button_transfer.enabled or offer_after_streak:
            if settings.calendar.is_open(ctx.now):
                button = reception.button_transfer.text
            elif answer.not_sure and _off_hours_instead(ctx):
                return
    if button is None and text == DEFAULT_NOT_SURE_TEXT:
        text = DEFAULT_NOT_SURE_TEXT_NO_BUTTON  # Kefu's own words must not point at no button
    content = answer_content(text, button_text=button)
    ctx.send("not_sure" if answer.not_sure else "ai_answer", content)


def _small_talk(ctx: Context, answer: Answer) -> None:
    """A greeting, thanks, acknowledgement or goodbye: the reply for its kind as plain text, or
    nothing when the admin set none. It asked nothing, so nothing was left unanswered: no
    button, no off-hours message, and the not-sure streak neither grows nor resets (a "好吧"
    between two questions the AI could not answer must not hide that it failed twice)."""
    reply = answer.text.strip()
    ctx.note("small_talk", small_talk=answer.small_talk, replied=bool(reply))
    if reply:
        ctx.send("small_talk", answer_content(reply, button_text=None))


def _off_hours_instead(ctx: Context) -> bool:
    """Off hours, a not-sure reply that would offer a human gets the off-hours message instead,
    once per session as for a request (no waiting for opening: they did not ask); it invites a
    message, so what they write is kept for servicers (留言)."""
    if ctx.state.off_hours_notified:
        return False
    phrase = off_hours_phrase(ctx.settings, ctx.now)
    if phrase is None:
        return False
    ctx.note("off_hours_not_sure")
    ctx.update(off_hours_notified=True, leaving_message="off_hours")
    return ctx.send("not_sure", phrase)  # still the answer to their question, in other words


def _rating(ctx: Context, rating: RatingClick, msgid: str) -> None:
    """A survey click: recorded once against its session and servicer, thanked; never AI, never routed."""
    if rating.session_no in ctx.state.rated_sessions:
        ctx.note("rating_repeated", session_no=rating.session_no, msgid=msgid)
        return
    ended = ctx.state.ended_session(rating.session_no)
    options = ctx.settings.messages.survey.options
    label = options[rating.option].label if rating.option < len(options) else str(rating.score)
    servicer = ended.servicer_userid if ended is not None else None
    rated = [*ctx.state.rated_sessions, rating.session_no][-KEEP_RATED_SESSIONS:]
    ctx.update(rated_sessions=rated)
    ctx.actions.append(
        RecordRating(session_no=rating.session_no, score=rating.score, label=label, servicer_userid=servicer)
    )
    ctx.note("rating", session_no=rating.session_no, score=rating.score, servicer=servicer)
    if not ctx.settings.enabled:
        paused(ctx)
        return
    ctx.send("rating_thanks", Text(text=RATING_THANKS_TEXT))
