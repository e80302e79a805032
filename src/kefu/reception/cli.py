"""`kefu conversations list|show`: the conversations Kefu mirrors and their transcripts, read
from the database (what `GET /api/v1/conversations` answers, without a token or a server)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from kefu.accounts import kf_accounts
from kefu.accounts.models import KfAccount
from kefu.accounts.settings import stored_settings
from kefu.cli_runtime import echo_json, run_with_runtime
from kefu.db import get_row
from kefu.reception import history
from kefu.reception.models import Conversation
from kefu.reception.schemas import ConversationDetail, ConversationOut, TranscriptItem
from kefu.runtime import Runtime

conversations_app = typer.Typer(
    help="Conversations with customers and their transcripts (read-only).", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
# WeCom's session states, as the servicer's app names them.
STATE_NAMES = {0: "未处理", 1: "智能助手", 2: "排队中", 3: "人工接待", 4: "已结束"}


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


@conversations_app.command("list")
def list_(
    account: Annotated[str | None, typer.Option(help="Only this account (id or open_kfid).")] = None,
    state: Annotated[
        int | None,
        typer.Option(min=0, max=4, help="Only this WeCom state: 0 new, 1 AI, 2 pool, 3 human, 4 ended."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Most recently active first, with the account's time zone for times."""

    async def work(rt: Runtime) -> list[tuple[ConversationOut, str]]:
        async with rt.db.read() as session:
            account_id = (await kf_accounts.resolve_account(session, account)).id if account else None
            rows = await history.list_conversations(
                session, account_id=account_id, wecom_state=state, limit=limit
            )
            zones = {}
            for row in rows:
                if row.account_id not in zones:
                    found = await session.get(KfAccount, row.account_id)
                    zones[row.account_id] = stored_settings(found).timezone if found else "UTC"
        return [(ConversationOut.model_validate(row), zones[row.account_id]) for row in rows]

    listed = run_with_runtime(work)
    if as_json:
        echo_json([view for view, _zone in listed])
        return
    if not listed:
        typer.echo("No conversations yet.")
    for c, zone in listed:
        servicer = f"  servicer {c.servicer_userid}" if c.servicer_userid else ""
        typer.echo(
            f"{c.id}  account {c.account_id}  {c.external_userid}  {STATE_NAMES[c.wecom_state]}"
            f"{servicer}  last message {_when(c.last_message_at, ZoneInfo(zone))} ({zone})"
        )


def _line(item: TranscriptItem, zone: ZoneInfo) -> str:
    at = _when(item.at, zone)
    if item.type == "message":
        who: str = item.sender or "event"
        if item.sender == "servicer" and item.detail.get("servicer_userid"):
            who = f"servicer {item.detail['servicer_userid']}"
        elif item.sender == "kefu" and item.kind:
            who = f"kefu ({item.kind})"
        elif item.sender == "event" and item.kind:
            who = f"event {item.kind}"
        notes = [n for n, on in (("recalled", item.recalled), ("send failed", item.send_fail_type)) if on]
        return f"{at}  {who}: {item.text or ''}" + (f"  [{', '.join(notes)}]" if notes else "")
    if item.type == "timeline":
        detail = " ".join(f"{k}={v}" for k, v in item.detail.items())
        return f"{at}  -- {item.kind} {detail}".rstrip()
    if item.type == "action":
        error = f" {item.errcode}" if item.errcode is not None else ""
        return f"{at}  !! {item.kind} {item.status}{error} {item.error or ''}".rstrip()
    return f"{at}  rating: {item.text} (score {item.detail.get('score')})"


@conversations_app.command("show")
def show(
    conversation_id: Annotated[int, typer.Argument(metavar="ID", help="The conversation's id (see list).")],
    as_json: JsonOpt = False,
) -> None:
    """The transcript in order: customer, servicer and Kefu messages, state changes, failed or
    refused actions, ratings."""

    async def work(rt: Runtime) -> tuple[ConversationDetail, str]:
        async with rt.db.read() as session:
            conversation = await get_row(session, Conversation, conversation_id, "conversation")
            account = await session.get(KfAccount, conversation.account_id)
            zone = stored_settings(account).timezone if account else "UTC"
            detail = ConversationDetail(
                conversation=ConversationOut.model_validate(conversation),
                state=conversation.state,
                transcript=await history.transcript(session, conversation),
            )
        return detail, zone

    detail, zone = run_with_runtime(work)
    if as_json:
        echo_json(detail)
        return
    c = detail.conversation
    servicer = f", servicer {c.servicer_userid}" if c.servicer_userid else ""
    typer.echo(
        f"Conversation {c.id}: customer {c.external_userid}, account {c.account_id}, "
        f"{STATE_NAMES[c.wecom_state]}{servicer} (times in {zone})"
    )
    for item in detail.transcript:
        typer.echo(_line(item, ZoneInfo(zone)))
