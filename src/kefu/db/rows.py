"""Reading one row by its primary key, the way every service and route needs it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.errors import NotFound

Row = TypeVar("Row")


async def get_row(session: AsyncSession, model: type[Row], row_id: int, what: str, **options: Any) -> Row:
    """The row, or NotFound("no {what} with id {row_id}") (a 404 through the API, a clear error in
    the CLI), coded `<what>_not_found` for the console (`WeChat customer` → `wechat_customer_not_found`).
    `options` go to `session.get` (e.g. `with_for_update=True`)."""
    row = await session.get(model, row_id, **options)
    if row is None:
        problem = what.lower().replace("-", "_").replace(" ", "_") + "_not_found"
        raise NotFound(f"no {what} with id {row_id}", problem, {"id": row_id})
    return row
