"""在线客服账号 against the simulator: create (avatar uploaded), adopt, rename, avatar only when
changed, enable/disable, delete, and a create that crashed after kf/account/add."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from kefu.accounts import kf_accounts
from kefu.accounts.kf_accounts import Avatar
from kefu.accounts.models import KfAccount
from kefu.accounts.settings import save_ai_settings
from kefu.ai.settings import AISettings
from kefu.errors import Conflict, Invalid, NotFound
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from tests.accounts.kf_fixtures import KfWorld, png
from tests.db_faults import refusing

pytestmark = pytest.mark.db


async def _row(rt: Runtime, account_id: int) -> KfAccount | None:
    async with rt.db.read() as s:
        return await s.get(KfAccount, account_id)


def _avatar(tmp_path: Path, name: str, rgb: tuple[int, int, int]) -> Avatar:
    path = tmp_path / name
    path.write_bytes(png(32, 32, rgb))
    return Avatar.from_file(path)


async def test_create_uploads_the_avatar_and_starts_the_first_pull(
    rt: Runtime, kf: KfWorld, tmp_path: Path
) -> None:
    avatar = _avatar(tmp_path, "a.png", (200, 0, 0))
    account = await kf_accounts.create_account(
        rt, connection_id=kf.connection.id, name="青禾家电售后", avatar=avatar
    )

    assert kf.account(account.open_kfid)["name"] == "青禾家电售后"
    assert kf.avatar_bytes(account.open_kfid) == avatar.content
    row = await _row(rt, account.id)
    assert row is not None and row.enabled and row.authorized
    assert (row.avatar_path, row.avatar_sha256) == (str(tmp_path / "a.png"), avatar.sha256)
    async with rt.db.read() as s:
        jobs = (await s.scalars(select(Job).where(Job.task == "ingest.sync"))).all()
    assert {"account_id": account.id} in [j.args for j in jobs]


async def test_create_without_an_avatar_uses_the_shipped_one(rt: Runtime, kf: KfWorld) -> None:
    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="默认头像")

    assert kf.avatar_bytes(account.open_kfid) == Avatar.default().content
    assert account.avatar_path is None and account.avatar_sha256 == Avatar.default().sha256


async def test_create_refuses_bad_input_before_calling_wecom(
    rt: Runtime, kf: KfWorld, tmp_path: Path
) -> None:
    before = kf.names()
    with pytest.raises(Invalid, match="1–16 characters"):
        await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="一" * 17)
    (tmp_path / "x.gif").write_bytes(b"GIF89a......")
    with pytest.raises(Invalid, match="must be a PNG or JPEG"):
        Avatar.from_file(tmp_path / "x.gif")
    with pytest.raises(Conflict, match="already has an account named '售后'"):
        await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="售后")
    async with rt.db.write() as s:
        await save_ai_settings(
            s,
            AISettings(provider="none"),
            secrets=rt.secrets,
            changed_by="t",
            source="cli",
            now=rt.clock.now(),
        )
    with pytest.raises(Invalid, match="reception mode ai_first needs an AI service"):
        await kf_accounts.create_account(
            rt, connection_id=kf.connection.id, name="新的", settings={"reception": {"mode": "ai_first"}}
        )
    assert kf.names() == before


async def test_a_create_that_crashed_after_account_add_is_finished_by_its_retry(
    rt: Runtime, kf: KfWorld
) -> None:
    async with refusing(rt, "kf_accounts"):
        with pytest.raises(DBAPIError, match="injected failure"):
            await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="崩溃后重试")
    assert kf.names().count("崩溃后重试") == 1  # WeCom has it; Kefu does not

    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="崩溃后重试")

    assert kf.names().count("崩溃后重试") == 1  # adopted by name, not created twice
    async with rt.db.read() as s:
        rows = (await s.scalars(select(KfAccount).where(KfAccount.name == "崩溃后重试"))).all()
    assert [r.open_kfid for r in rows] == [account.open_kfid]


async def test_adopt_an_account_made_in_wecom(rt: Runtime, kf: KfWorld, tmp_path: Path) -> None:
    made = kf.simulator.control("POST", f"corps/{kf.corp.corpid}/accounts", json={"name": "后台建的"})
    avatar = _avatar(tmp_path, "b.png", (0, 0, 200))

    account = await kf_accounts.adopt_account(
        rt, connection_id=kf.connection.id, open_kfid=made["open_kfid"], avatar=avatar, enabled=False
    )

    assert (account.name, account.enabled, account.avatar_sha256) == ("后台建的", False, avatar.sha256)
    assert kf.avatar_bytes(made["open_kfid"]) == avatar.content
    with pytest.raises(Conflict, match="may not manage"):
        await kf_accounts.adopt_account(rt, connection_id=kf.connection.id, open_kfid=kf.corp.unmanaged_kfid)
    with pytest.raises(NotFound, match="WeCom lists no account wkNoSuch"):
        await kf_accounts.adopt_account(rt, connection_id=kf.connection.id, open_kfid="wkNoSuch")


async def test_rename_and_the_avatar_is_uploaded_only_when_it_changed(
    rt: Runtime, kf: KfWorld, tmp_path: Path
) -> None:
    first = _avatar(tmp_path, "a.png", (1, 2, 3))
    account = await kf_accounts.create_account(
        rt, connection_id=kf.connection.id, name="改名前", avatar=first
    )
    uploads = kf.media_count()

    await kf_accounts.update_account(rt, account.id, name="改名后", avatar=first)
    assert kf.account(account.open_kfid)["name"] == "改名后" and kf.media_count() == uploads

    same_bytes_elsewhere = tmp_path / "copy.png"
    same_bytes_elsewhere.write_bytes(first.content)
    row = await kf_accounts.update_account(rt, account.id, avatar=Avatar.from_file(same_bytes_elsewhere))
    assert kf.media_count() == uploads and row.avatar_path == str(same_bytes_elsewhere)

    second = _avatar(tmp_path, "b.png", (9, 9, 9))
    row = await kf_accounts.update_account(rt, account.id, avatar=second)
    assert kf.media_count() == uploads + 1 and kf.avatar_bytes(account.open_kfid) == second.content
    assert row.name == "改名后" and row.avatar_sha256 == second.sha256


async def test_enable_and_disable_are_local(rt: Runtime, kf: KfWorld) -> None:
    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="开关")
    seen = kf.account(account.open_kfid)

    assert not (await kf_accounts.set_enabled(rt, account.id, False)).enabled
    assert kf.account(account.open_kfid) == seen
    assert (await kf_accounts.set_enabled(rt, account.id, True)).enabled


async def test_delete_in_wecom_then_here_and_a_retry_after_a_crash(rt: Runtime, kf: KfWorld) -> None:
    account = await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="要删除")

    async with refusing(rt, "kf_accounts", "DELETE"):
        with pytest.raises(DBAPIError, match="injected failure"):
            await kf_accounts.delete_account(rt, account.id)
    assert "要删除" not in kf.names() and await _row(rt, account.id) is not None

    await kf_accounts.delete_account(rt, account.id)  # WeCom answers 95004: already gone
    assert await _row(rt, account.id) is None
