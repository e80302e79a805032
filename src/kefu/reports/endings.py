"""How a session ended, as a report names it, from what the reception recorded (session_records'
`end_reason` and `end_requested`, see kefu.reception.session_log).

A customer cannot end a WeCom session; a servicer can (in the WeCom app), Kefu can (a trans → 4
for an AI idle timeout, a queue timeout or an end by hand in the console or the API), and WeCom
does at 48 h. Kefu's own end is noted as Kefu's (`kefu_ended`, or WeCom's echo of it, or
`ended_by_kefu_only` when WeCom refused it and only Kefu's records end it): why Kefu asked is the
`end_requested` of the earlier decision that asked. A session Kefu found ended without being told
(a state check, or WeCom answering "already ended" to a move) ended in WeCom, and how is not
known.
"""

from __future__ import annotations

# The report's names, in the order the page lists them when counts tie.
END_REASONS = (
    "servicer",  # a servicer ended it in the WeCom app (结束会话)
    "ai_idle_timeout",  # Kefu: the AI session was silent past session.ai_idle_timeout_minutes
    "queue_timeout",  # Kefu: it waited in the pool past queue.timeout_minutes
    "ended_by_hand",  # Kefu: ended by hand in the console (结束) or through the API
    "expired_48h",  # WeCom's 48 h limit on a session (Kefu's timer follows it)
    "ended_in_wecom",  # found ended by a state check or a refused move: how is unknown
    "other",  # Kefu's end recorded before the version that keeps why (migration 0018)
)
KEFU_ENDS = frozenset({"kefu_ended", "kefu_transfer_echo", "ended_by_kefu_only"})
ASKED_BY_KEFU = {
    "idle_timeout": "ai_idle_timeout",
    "queue_timeout": "queue_timeout",
    "ended_by_hand": "ended_by_hand",
}
RECORDED = {
    "servicer_ended": "servicer",
    "expired_48h": "expired_48h",
    "reconciled": "ended_in_wecom",
    "wecom_session_ended": "ended_in_wecom",
}


def end_reason_of(recorded: str | None, requested: str | None) -> str:
    """The report's name for an end the reception recorded as `recorded`, after Kefu last asked
    for one because of `requested` (if it did)."""
    if recorded in KEFU_ENDS:
        return ASKED_BY_KEFU.get(requested or "", "other")
    return RECORDED.get(recorded or "", "other")
