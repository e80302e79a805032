"""What the entry points assemble: every table and every task of Kefu.

Importing this module registers every task (`@task` runs at import), so a process that enqueues
or runs jobs knows them all; `metadata` is every table, for the model/migration check and
`kefu db revision`. Feature packages never import it: it sits above them all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine

import kefu.accounts.tasks
import kefu.crm.tasks
import kefu.ingest.tasks
import kefu.reception.dispatch
import kefu.reception.tasks
from kefu.accounts.models import (
    Connection,
    GlobalSetting,
    KfAccount,
    KnowledgeEntryRow,
    Servicer,
    SettingsVersion,
)
from kefu.api.models import ApiToken, ConsoleNotice, ConsoleSession, ConsoleUser, LoginFailure
from kefu.audit.models import AuditEvent
from kefu.crm.models import CrmBinding, CrmContact, CrmCustomer, WechatCustomer
from kefu.db.base import Base
from kefu.db.engine import sync_url
from kefu.db.migrate import MIGRATIONS, alembic_config, upgrade
from kefu.ingest.models import CallbackEvent, Message
from kefu.jobs.models import Job, WorkerHeartbeat
from kefu.jobs.registry import registered_tasks
from kefu.reception.models import (
    Conversation,
    ConversationAction,
    FollowUp,
    Rating,
    SessionRecord,
    TimelineEntry,
)
from kefu.routing.models import RoundRobinPointer, RoutingDecisionRow

TASK_MODULES = (
    kefu.accounts.tasks,
    kefu.crm.tasks,
    kefu.ingest.tasks,
    kefu.reception.tasks,
    kefu.reception.dispatch,
)
MODELS = (
    ApiToken,
    AuditEvent,
    ConsoleNotice,
    ConsoleSession,
    ConsoleUser,
    LoginFailure,
    CallbackEvent,
    Connection,
    Conversation,
    CrmBinding,
    CrmContact,
    CrmCustomer,
    ConversationAction,
    GlobalSetting,
    Job,
    KfAccount,
    KnowledgeEntryRow,
    Message,
    Rating,
    RoundRobinPointer,
    RoutingDecisionRow,
    SessionRecord,
    FollowUp,
    Servicer,
    SettingsVersion,
    TimelineEntry,
    WorkerHeartbeat,
    WechatCustomer,
)
metadata: MetaData = Base.metadata
VERSIONS = MIGRATIONS / "versions"


def task_names() -> list[str]:
    """Every registered task, for the worker's start-up line."""
    return registered_tasks()


def new_revision(message: str, *, version_path: str | None = None) -> str:
    """Write a migration for what the models changed (Alembic autogenerate against a scratch
    SQLite database at head) into the migrations' versions folder, or `version_path`; returns
    the new file's path."""
    from alembic import command
    from alembic.script import ScriptDirectory

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        upgrade(url)
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                config = alembic_config(url)
                if version_path is not None:  # Alembic writes only into a folder it reads from
                    config.set_main_option("path_separator", "os")
                    config.set_main_option(
                        "version_locations", os.pathsep.join([str(VERSIONS), version_path])
                    )
                config.attributes["connection"] = connection
                config.attributes["target_metadata"] = metadata
                head = ScriptDirectory.from_config(config).get_current_head()
                script = command.revision(
                    config,
                    message=message,
                    autogenerate=True,
                    version_path=version_path,
                    rev_id=f"{int(head) + 1:04d}" if head and head.isdigit() else None,
                )
        finally:
            engine.dispose()
    scripts = script if isinstance(script, list) else [script]
    return ", ".join(s.path for s in scripts if s is not None)


def model_differences(url: str) -> list[Any]:
    """What autogenerate would write against the database at `url`: empty when models and
    migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
