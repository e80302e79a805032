"""How a session ended, as a report names it, from what the reception recorded (session_records'
`end_reason` and `end_requested`, see kefu.reception.session_log).

A customer cannot end a WeCom session; a servicer can (in the WeCom app), Kefu can (a trans → 4
for an AI idle timeout, a queue timeout or an end by hand — by the session's servicer or by an
admin in the console, or through the API), and WeCom
does at 48 h. Kefu's own end is noted as Kefu's (`kefu_ended`, or WeCom's echo of it, or
`ended_by_kefu_only` when WeCom refused it and only Kefu's records end it): why Kefu asked is the
`end_requested` of the earlier decision that asked. A session Kefu found ended without being told
(a state check, or WeCom answering "already ended" to a move) ended in WeCom, and how is not
known.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

# The report's names, in the order the page lists them when counts tie.
END_REASONS = (
    "servicer",  # a servicer ended it in the WeCom app (结束会话)
    "ai_idle_timeout",  # Kefu: the AI session was silent past session.ai_idle_timeout_minutes
    "queue_timeout",  # Kefu: it waited in the pool past queue.timeout_minutes
    "servicer_in_console",  # Kefu: ended by hand in the console (结束) by the session's servicer
    "admin_in_console",  # Kefu: ended by hand in the console by an admin or supervisor
    "api",  # Kefu: ended through the REST API (POST /api/v1/conversations/{id}/end)
    "ended_by_hand",  # Kefu: ended by hand before the version that keeps who did (console or API)
    "expired_48h",  # WeCom's 48 h limit on a session (Kefu's timer follows it)
    "ended_in_wecom",  # found ended by a state check or a refused move: how is unknown
    "other",  # Kefu's end recorded before the version that keeps why (migration 0018)
)
# end_reason of Kefu's own end: its name is then the one of why Kefu asked (end_requested).
KEFU_ENDS = frozenset({"kefu_ended", "kefu_transfer_echo", "ended_by_kefu_only"})
ASKED_BY_KEFU = {
    "idle_timeout": "ai_idle_timeout",
    "queue_timeout": "queue_timeout",
    "ended_by_servicer_in_console": "servicer_in_console",
    "ended_by_admin_in_console": "admin_in_console",
    "ended_by_api": "api",
    "ended_by_hand": "ended_by_hand",  # recorded before who ended it was kept
}
# Any other end_reason, named by itself.
RECORDED = {
    "servicer_ended": "servicer",
    "expired_48h": "expired_48h",
    "reconciled": "ended_in_wecom",
    "wecom_session_ended": "ended_in_wecom",
}


def ended_by(recorded: Any, requested: Any) -> dict[str, ColumnElement[bool]]:
    """Each name's condition on the recorded `end_reason` and `end_requested` columns (counted
    over ended sessions); `other` is what none of them holds."""
    by_kefu = recorded.in_(sorted(KEFU_ENDS))
    conditions: dict[str, ColumnElement[bool]] = {}
    for name in END_REASONS:
        recorded_as = sorted(reason for reason, named in RECORDED.items() if named == name)
        asked_as = sorted(reason for reason, named in ASKED_BY_KEFU.items() if named == name)
        if recorded_as:
            conditions[name] = recorded.in_(recorded_as)
        elif asked_as:
            conditions[name] = and_(by_kefu, requested.in_(asked_as))
    return conditions
