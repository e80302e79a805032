"""Import every model so that Base.metadata is complete (Alembic, tests)."""

from kefu.accounts.models import (
    Connection,
    GlobalSetting,
    KfAccount,
    KnowledgeEntryRow,
    Servicer,
    SettingsVersion,
)
from kefu.api.models import ApiToken
from kefu.db.base import Base
from kefu.ingest.models import CallbackEvent, Message
from kefu.jobs.models import Job
from kefu.reception.models import Conversation, ConversationAction, Rating, TimelineEntry

__all__ = [
    "ApiToken",
    "Base",
    "CallbackEvent",
    "Connection",
    "Conversation",
    "ConversationAction",
    "GlobalSetting",
    "Job",
    "KfAccount",
    "KnowledgeEntryRow",
    "Message",
    "Rating",
    "Servicer",
    "SettingsVersion",
    "TimelineEntry",
]
