"""`kefu conversations list|show` on a conversation Kefu really served: the customer asked, the
AI answered with the 转人工 button, the customer tapped it and went to a servicer."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import Result
from typer.testing import CliRunner

from kefu.cli import app
from kefu.settings import get_settings
from tests.accounts.fixtures import cli_env
from tests.reception.conftest import World, WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def kefu(world: World, *args: str) -> Result:
    """The `kefu` command in-process (its own event loop, so in a thread) on the world's database."""

    def invoke() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env=cli_env(world.rt.settings))
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(invoke)


async def test_list_and_show_print_the_transcript(make_world: WorldFactory) -> None:
    world = await make_world(kb=True, servicers=["alice"])
    world.says("怎么退货")
    await world.settle()
    menu = next(m for m in world.inbox() if m["msgtype"] == "msgmenu")
    world.rt.clock.advance(5)
    world.clicks(menu["msgid"], menu["body"]["list"][-1]["click"]["id"])  # 转人工
    await world.settle()
    conversation = await world.conversation()
    assert conversation.wecom_state == 3 and conversation.servicer_userid == "alice"

    listed = await kefu(world, "conversations", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.startswith(
        f"{conversation.id}  account {world.account.id}  {world.customer}  人工接待"
    )
    assert "servicer alice" in listed.stdout and "(Asia/Shanghai)" in listed.stdout

    shown = await kefu(world, "conversations", "show", str(conversation.id))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Conversation {conversation.id}: customer {world.customer}")
    said = [line.split("  ", 1)[1] for line in lines[1:] if ": " in line]
    assert said[0] == "customer: 怎么退货"
    assert said[1].startswith("kefu (ai_answer): 收到商品 7 天内可在订单页申请退货") and "[转人工]" in said[1]
    assert "customer: 转人工" in said
    assert any("-- state_changed" in line and "to_state=3" in line for line in lines)

    as_json = json.loads((await kefu(world, "conversations", "show", str(conversation.id), "--json")).stdout)
    assert as_json["conversation"]["servicer_userid"] == "alice"
    assert [i["text"] for i in as_json["transcript"] if i["sender"] == "customer"] == ["怎么退货", "转人工"]
    filtered = await kefu(world, "conversations", "list", "--state", "2", "--account", world.open_kfid)
    assert filtered.stdout == "No conversations yet.\n"
    missing = await kefu(world, "conversations", "show", "999")
    assert missing.exit_code == 2 and missing.stderr == "error: no conversation with id 999\n"
