"""接待人员 in step with WeCom: per-userid results, removal, local order and caps, status from
kf/servicer/list, from servicer_status_change events, and the refresh job."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from kefu.accounts import kf_accounts
from kefu.accounts.models import KfAccount
from kefu.accounts.servicers import (
    ServicerSpec,
    add_servicers,
    apply_servicer_status_event,
    list_servicers,
    remove_servicers,
    set_servicers,
)
from kefu.accounts.tasks import refresh_servicers_job
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from tests.accounts.kf_fixtures import KfWorld

pytestmark = pytest.mark.db


@pytest.fixture
async def account(rt: Runtime, kf: KfWorld) -> KfAccount:
    return await kf_accounts.create_account(rt, connection_id=kf.connection.id, name="接待测试")


async def _rows(rt: Runtime, account_id: int) -> list[tuple[str, int | None, bool, int, int, str | None]]:
    async with rt.db.read() as s:
        return [
            (r.userid, r.max_sessions, r.in_wecom, r.status, r.stop_type, r.last_error)
            for r in await list_servicers(s, account_id)
        ]


def _in_wecom(kf: KfWorld, open_kfid: str) -> list[str]:
    return kf.account(open_kfid)["servicer_userids"]


async def test_add_keeps_each_userids_result_in_words(rt: Runtime, kf: KfWorld, account: KfAccount) -> None:
    sync = await set_servicers(
        rt, account.id, [ServicerSpec("zhangsan", 10), ServicerSpec("nobody"), ServicerSpec("lisi", 3)]
    )

    assert _in_wecom(kf, account.open_kfid) == ["zhangsan", "lisi"]
    refused = "WeCom errcode 60111: user does not exist in the corp (check the userid in 通讯录)"
    assert sync.problems == {"nobody": refused}
    assert await _rows(rt, account.id) == [
        ("zhangsan", 10, True, 0, 0, None),
        ("nobody", None, False, 0, 0, refused),
        ("lisi", 3, True, 0, 0, None),
    ]

    # Once the member exists, adding again succeeds; the others are left as they are.
    kf.simulator.control("POST", f"corps/{kf.corp.corpid}/members", json={"userid": "nobody"})
    await add_servicers(rt, account.id, [ServicerSpec("nobody", 2)])
    assert [(u, cap, ok) for u, cap, ok, *_ in await _rows(rt, account.id)] == [
        ("zhangsan", 10, True),
        ("nobody", 2, True),
        ("lisi", 3, True),
    ]


async def test_remove_and_reorder(rt: Runtime, kf: KfWorld, account: KfAccount) -> None:
    await set_servicers(rt, account.id, [ServicerSpec(u) for u in ("zhangsan", "lisi", "wangwu")])

    await remove_servicers(rt, account.id, ["lisi"])
    assert _in_wecom(kf, account.open_kfid) == ["zhangsan", "wangwu"]

    await set_servicers(rt, account.id, [ServicerSpec("wangwu", 5), ServicerSpec("zhangsan")])
    assert [(u, cap) for u, cap, *_ in await _rows(rt, account.id)] == [("wangwu", 5), ("zhangsan", None)]
    assert sorted(_in_wecom(kf, account.open_kfid)) == ["wangwu", "zhangsan"]  # WeCom's order is its own


async def test_a_list_set_in_kefu_removes_servicers_added_in_the_wecom_admin(
    rt: Runtime, kf: KfWorld, account: KfAccount
) -> None:
    kf.simulator.control("POST", f"accounts/{account.open_kfid}/servicers", json={"userids": ["wangwu"]})

    await set_servicers(rt, account.id, [ServicerSpec("zhangsan")])

    assert _in_wecom(kf, account.open_kfid) == ["zhangsan"]


async def test_status_follows_servicer_list_and_the_refresh_job(
    rt: Runtime, kf: KfWorld, account: KfAccount
) -> None:
    await set_servicers(rt, account.id, [ServicerSpec("zhangsan"), ServicerSpec("lisi")])
    kf.simulator.control(
        "POST", f"corps/{kf.corp.corpid}/members/lisi/reception", json={"status": 2, "stop_type": 1}
    )
    kf.simulator.control("POST", f"accounts/{account.open_kfid}/servicers", json={"userids": ["wangwu"]})
    with kf.simulator.state.lock:  # removed in the WeCom admin
        kf.simulator.state.accounts[account.open_kfid].userids.remove("zhangsan")

    await refresh_servicers_job(rt, account_id=account.id)

    rows = await _rows(rt, account.id)
    assert rows[0][:3] == ("zhangsan", None, False) and "not in WeCom's reception list" in str(rows[0][5])
    assert rows[1] == ("lisi", None, True, 1, 1, None)  # 停止接待, 暂时挂起
    assert rows[2] == ("wangwu", None, True, 0, 0, None)  # joined the end of Kefu's list


async def test_status_events_use_their_own_encoding(rt: Runtime, kf: KfWorld, account: KfAccount) -> None:
    await set_servicers(rt, account.id, [ServicerSpec("zhangsan")])
    now = rt.clock.now()
    async with rt.db.write() as s:  # the reads queued when the accounts were connected: done with
        await s.execute(delete(Job).where(Job.task == "accounts.refresh_servicers"))

    async with rt.db.write() as s:
        stopped = await s.run_sync(apply_servicer_status_event, account.id, "zhangsan", 2, 1, now)
        assert stopped is not None and (stopped.status, stopped.stop_type) == (1, 1)
        assert await s.run_sync(apply_servicer_status_event, account.id, "stranger", 1, 0, now) is None
        assert await s.run_sync(apply_servicer_status_event, account.id, "zhangsan", 7, 0, now) is None
    assert (await _rows(rt, account.id))[0][3:5] == (1, 1)
    async with rt.db.read() as s:  # someone Kefu does not know: the list is read again
        refreshes = (await s.scalars(select(Job.args).where(Job.task == "accounts.refresh_servicers"))).all()
    assert refreshes == [{"account_id": account.id}]

    async with rt.db.write() as s:
        await s.run_sync(apply_servicer_status_event, account.id, "zhangsan", 1, 0, now)
    assert (await _rows(rt, account.id))[0][3:5] == (0, 0)
