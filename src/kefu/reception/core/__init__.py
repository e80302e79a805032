"""The reception engine's functional core: `decide(state, inbound, settings, servicers, now)`.

Pure: no database, no network, no clock, no randomness. The imperative shell
(kefu.reception) loads a conversation's `ConversationState` (JSON), asks the AI
only when `wants_ai_answer` says so, calls `decide`, stores the new state and
timeline, and delivers the actions as jobs, feeding their outcomes back in.
"""

from kefu.reception.core.actions import (
    Action,
    Content,
    Decision,
    MarkRecalled,
    Menu,
    MenuChoice,
    Phrase,
    Purpose,
    Reconcile,
    RecordRating,
    RecordSendFailure,
    Send,
    SendOnEvent,
    Text,
    TimelineEntry,
    Transfer,
    phrases_of,
    to_outbound,
)
from kefu.reception.core.decide import decide, wants_ai_answer
from kefu.reception.core.inbound import (
    INBOUND_ADAPTER,
    CustomerNonText,
    CustomerText,
    EnterSession,
    IdleCheck,
    Inbound,
    OpeningReached,
    Recall,
    Reconciled,
    SendFailed,
    SendRefused,
    ServicerMessage,
    SessionStatusChange,
    TransferDone,
    TransferRefused,
)
from kefu.reception.core.messages import (
    RATING_CLICK_PREFIX,
    TRANSFER_CLICK_ID,
    RatingClick,
    matches_keyword,
    normalise,
    parse_rating,
    rating_click_id,
)
from kefu.reception.core.routing import choose_servicer
from kefu.reception.core.settings import AccountSettings, ServicerLoad, hours_settings
from kefu.reception.core.state import (
    ConversationState,
    EndedSession,
    EventCode,
    Transition,
)
from kefu.reception.core.timers import next_idle_check, next_opening_check

__all__ = [
    "INBOUND_ADAPTER",
    "RATING_CLICK_PREFIX",
    "TRANSFER_CLICK_ID",
    "AccountSettings",
    "Action",
    "Content",
    "ConversationState",
    "CustomerNonText",
    "CustomerText",
    "Decision",
    "EndedSession",
    "EnterSession",
    "EventCode",
    "IdleCheck",
    "Inbound",
    "MarkRecalled",
    "Menu",
    "MenuChoice",
    "OpeningReached",
    "Phrase",
    "Purpose",
    "RatingClick",
    "Recall",
    "Reconcile",
    "Reconciled",
    "RecordRating",
    "RecordSendFailure",
    "Send",
    "SendFailed",
    "SendOnEvent",
    "SendRefused",
    "ServicerLoad",
    "ServicerMessage",
    "SessionStatusChange",
    "Text",
    "TimelineEntry",
    "Transfer",
    "TransferDone",
    "TransferRefused",
    "Transition",
    "choose_servicer",
    "decide",
    "hours_settings",
    "matches_keyword",
    "next_idle_check",
    "next_opening_check",
    "normalise",
    "parse_rating",
    "phrases_of",
    "rating_click_id",
    "to_outbound",
    "wants_ai_answer",
]
