"""新建接入's check, in words, against the WeCom simulator over real HTTP."""

from __future__ import annotations

import pytest

from kefu.accounts.service import check_connection
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.accounts.fixtures import Corp


async def test_ok_lists_the_accounts_the_app_may_manage(rt: Runtime, corp: Corp) -> None:
    result = await check_connection(rt, corp_id=corp.corpid, secret=corp.secret)

    assert result.ok and result.problem is None
    assert [a.open_kfid for a in result.manageable] == corp.open_kfids
    assert "may manage 2 account(s)" in result.message
    assert "售后" in result.message and "1 more listed that it may not manage" in result.message


async def test_wrong_secret(rt: Runtime, corp: Corp) -> None:
    result = await check_connection(rt, corp_id=corp.corpid, secret="not-the-secret")

    assert (result.ok, result.problem) == (False, "wrong_secret")
    assert result.message.startswith("Wrong secret") and "40001" in result.message
    assert "自建应用" in result.message


async def test_wrong_corp_id(rt: Runtime, corp: Corp) -> None:
    result = await check_connection(rt, corp_id="ww0000000000000000", secret=corp.secret)

    assert result.problem == "wrong_corp_id"
    assert result.message.startswith("Wrong corpid") and "企业ID" in result.message


async def test_ip_not_allowed_names_the_ip_and_the_setting(
    rt: Runtime, corp: Corp, simulator: SimulatorServer
) -> None:
    simulator.control("PUT", f"corps/{corp.corpid}/ip-allowlist", json={"ips": ["203.0.113.7"]})

    result = await check_connection(rt, corp_id=corp.corpid, secret=corp.secret)

    assert result.problem == "ip_not_allowed"
    assert "IP not allowed" in result.message and "127.0.0.1" in result.message
    assert "企业可信IP" in result.message


@pytest.mark.parametrize("errcode", [48002, 95017])
async def test_kf_api_not_enabled_for_the_app(
    rt: Runtime, corp: Corp, simulator: SimulatorServer, errcode: int
) -> None:
    simulator.control(
        "POST", "faults", json={"endpoint": "kf/account/list", "errcodes": [errcode], "count": 1}
    )

    result = await check_connection(rt, corp_id=corp.corpid, secret=corp.secret)

    assert result.problem == "api_not_enabled"
    assert "API not enabled for this app" in result.message and "可调用接口的应用" in result.message


async def test_edition_mismatch_and_other_codes_keep_the_hint(
    rt: Runtime, corp: Corp, simulator: SimulatorServer
) -> None:
    simulator.control("POST", "faults", json={"endpoint": "kf/account/list", "errcodes": [95011], "count": 1})
    result = await check_connection(rt, corp_id=corp.corpid, secret=corp.secret)
    assert result.problem == "edition_mismatch" and "self-built app's secret" in result.message

    simulator.control("POST", "faults", json={"endpoint": "gettoken", "errcodes": [45009], "count": 1})
    result = await check_connection(rt, corp_id=corp.corpid, secret=corp.secret)
    assert result.problem == "wecom_error"
    assert "45009" in result.message and "rate limit" in result.message


async def test_unreachable(rt: Runtime) -> None:
    rt.settings.wecom_api_base = "http://127.0.0.1:9"

    result = await check_connection(rt, corp_id="ww0123", secret="s")

    assert result.problem == "unreachable"
    assert result.message.startswith("WeCom unreachable at http://127.0.0.1:9")
