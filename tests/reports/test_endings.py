"""Every end the reception can record has a name in reports (kefu.reports.endings): a new reason
added to the reception core without one would show as "other" on the page. Read from the core's
source, so the list cannot fall behind it."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import kefu.reception.core as core
from kefu.reception.core.events import CHANGE_REASON
from kefu.reception.models import SessionRecord
from kefu.reports.endings import ASKED_BY_KEFU, END_REASONS, KEFU_ENDS, RECORDED, ended_by

SOURCE = "\n".join(path.read_text() for path in Path(core.__file__).parent.glob("*.py"))


def test_every_recorded_end_has_a_name() -> None:
    literal = set(re.findall(r'end_session\(reason="(\w+)"', SOURCE))
    # settle() ends with the reason it is given: a servicer's end in the app, or Kefu's trans → 4
    # (its outcome, or WeCom's echo of it).
    given = {CHANGE_REASON[3], "kefu_ended", "kefu_transfer_echo"}
    assert {"expired_48h", "wecom_session_ended", "ended_by_kefu_only", "reconciled"} <= literal
    assert literal | given == KEFU_ENDS | set(RECORDED)


def test_every_end_kefu_asks_for_has_a_name() -> None:
    asked = set(re.findall(r'transfer\(4, None, reason="(\w+)"', SOURCE))
    # An end by hand is asked as ended_by_{who}, or ended_by_hand where who is not said.
    assert re.search(r"transfer\(4, None, reason=f\"ended_by_\{ending.who or 'hand'\}\"\)", SOURCE)
    asked |= {f"ended_by_{who}" for who in (*typing.get_args(core.EndedByHand), "hand")}
    assert (
        asked
        == set(ASKED_BY_KEFU)
        == {
            "idle_timeout",
            "queue_timeout",
            "ended_by_hand",
            "ended_by_servicer_in_console",
            "ended_by_admin_in_console",
            "ended_by_api",
        }
    )
    # Every name but `other` (what none holds) has its condition.
    assert set(ASKED_BY_KEFU.values()) | set(RECORDED.values()) | {"other"} == set(END_REASONS)
    assert set(ended_by(SessionRecord.end_reason, SessionRecord.end_requested)) == set(END_REASONS) - {
        "other"
    }
