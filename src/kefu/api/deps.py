"""Dependency aliases for API handlers, in one place, so handler signatures read as prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field

from kefu.api.auth import require_token
from kefu.api.models import ApiToken
from kefu.db.base import MAX_ID
from kefu.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TokenDep = Annotated[ApiToken, Depends(require_token)]
# Ids from the URL: checked against the column's range before any query (422 otherwise).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# A page's offset: past MAX_ID the database's integer overflows (a 500 instead of an empty page).
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_ID)]
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]  # an id in a JSON body
