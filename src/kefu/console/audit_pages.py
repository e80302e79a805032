"""审计日志: who changed what and when, newest first, filtered by actor or target (the audit
kit's `list_events`); each event shows its action in words (the stored code under them, for
engineers) and its changed fields as before → after."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kefu.audit.log import list_events
from kefu.console.menu import MANAGERS
from kefu.console.web import Viewer, render, role, runtime_of
from kefu.db.base import MAX_ID

router = APIRouter(include_in_schema=False)
NOTHING = "—"
Manager = Annotated[Viewer, Depends(role(*MANAGERS))]
PAGE_SIZE = 50
Filter = Annotated[str, Query(max_length=128)]


def shown(value: Any) -> str:
    """A field's value as people read it: text as is, anything else as JSON with its Chinese intact."""
    if value is None:
        return NOTHING
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def action_words(t: Callable[..., str], action: str) -> str | None:
    """An action code in the reader's language (`audit.action_name.<code>`), or None for a code
    without words (one added later, or a test's): the page then shows the code alone."""
    key = f"audit.action_name.{action}"
    words = t(key)
    return None if words == key else words


def changes_of(changes: dict[str, list[Any]]) -> list[tuple[str, str, str]]:
    return [(field, shown(pair[0]), shown(pair[1])) for field, pair in changes.items()]


@router.get("/console/audit")
async def audit_page(
    request: Request,
    viewer: Manager,
    actor: Filter = "",
    target: Filter = "",
    page: Annotated[int, Query(ge=1, le=MAX_ID // PAGE_SIZE)] = 1,
) -> Response:
    actor, target = actor.strip(), target.strip()
    async with runtime_of(request).db.read() as session:
        events, total = await list_events(
            session,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            actor=actor or None,
            target=target or None,
        )
    return render(
        request,
        "audit.html",
        events=[
            (event, action_words(viewer.t, event.action), changes_of(event.changes or {})) for event in events
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        actor=actor,
        target=target,
    )
