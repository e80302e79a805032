"""A first run that shows the product: at any hour the customer who taps 转人工 reaches a
servicer, the banner's token opens the API, and the demo stays on loopback unless told
otherwise — then the simulator's control API asks for the printed token."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.clock import Clock
from kefu.demo import Demo
from kefu.demo_setup import banner_lines

pytestmark = pytest.mark.slow

# Saturday 28 November 2026, 20:30 in Shanghai: outside any office hours.
WEEKEND_EVENING = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


def wait_for(check: Any, timeout_s: float = 20.0) -> Any:
    """Poll (real time: Kefu's worker runs in other threads) until `check()` is truthy."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_on_a_weekend_evening_the_customer_who_taps_the_button_waits_for_a_servicer(tmp_path: Path) -> None:
    with Demo(data_dir=tmp_path / "demo", port=0, sim_port=0, clock=Clock(start=WEEKEND_EVENING)) as demo:
        assert demo.simulator is not None and demo.keys is not None
        sim, keys = demo.simulator, demo.keys
        customer = keys.customer_ids[0]
        body = {"open_kfid": keys.open_kfid, "msgtype": "text", "text": {"content": "冰箱不制冷怎么办"}}
        sim.control("POST", f"customers/{customer}/messages", body)

        def ai_menu() -> dict[str, Any] | None:
            inbox = sim.control("GET", f"customers/{customer}/inbox")["messages"]
            return next((m for m in inbox if m["msgtype"] == "msgmenu"), None)

        menu = wait_for(ai_menu)
        button = next(i["click"] for i in menu["body"]["list"] if i["type"] == "click")
        assert button["content"] == "转人工"
        click = {"open_kfid": keys.open_kfid, "menu_msgid": menu["msgid"], "item_id": button["id"]}
        sim.control("POST", f"customers/{customer}/click", click)

        # What the servicer page shows 张三: the customer, to take (pool) or already theirs.
        def on_servicer_page() -> list[str]:
            view = httpx.get(
                f"{sim.url}/_sim/ui/servicer", params={"corpid": keys.corpid, "userid": "zhangsan"}
            ).json()
            return [c["nickname"] for c in view["pool"] + view["mine"]]

        assert wait_for(on_servicer_page) == ["小林"]
        texts = [
            m["body"].get("content", "")
            for m in sim.control("GET", f"customers/{customer}/inbox")["messages"]
        ]
        assert not any("非人工接待时间" in t for t in texts), texts
        # Settings saved once by the demo, as a version an admin can see and change.
        versions = httpx.get(
            f"{demo.kefu.url}/api/v1/accounts/1/settings/versions",  # type: ignore[union-attr]
            headers={"Authorization": f"Bearer {keys.api_token}"},
        )
        assert versions.status_code == 200, versions.text
        assert [v["changed_by"] for v in versions.json()] == ["kefu demo"]


def test_the_demo_refuses_another_address_without_allow_remote(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "demo", "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "loopback only" in result.stderr and "--allow-remote" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


def test_allow_remote_puts_the_simulator_behind_the_printed_token(tmp_path: Path) -> None:
    with Demo(data_dir=tmp_path / "demo", host="0.0.0.0", port=0, sim_port=0, allow_remote=True) as demo:
        assert demo.simulator is not None and demo.keys is not None and demo.control_token
        sim, token = demo.simulator.url, demo.control_token
        assert httpx.get(f"{sim}/_sim/api/corps").status_code == 401
        assert httpx.get(f"{sim}/_sim/ui/directory").status_code == 401
        assert httpx.get(f"{sim}/_sim/").status_code == 401
        bad = httpx.get(f"{sim}/_sim/api/corps", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and "control token" in bad.json()["detail"]
        good = httpx.get(f"{sim}/_sim/api/corps", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200 and good.json()[0]["corpid"] == demo.keys.corpid

        # The banner's page URL carries the token once; the cookie it leaves serves the page's calls.
        assert demo.urls["Servicer page (客服)"].endswith(f"/_sim/servicer?token={token}")
        with httpx.Client() as browser:
            assert browser.get(demo.urls["Servicer page (客服)"]).status_code == 200
            assert browser.get(f"{sim}/_sim/ui/directory").status_code == 200

        # WeCom's own API keeps its own auth, and Kefu still gets every message.
        gettoken = httpx.get(
            f"{sim}/cgi-bin/gettoken",
            params={"corpid": demo.keys.corpid, "corpsecret": demo.keys.corp_secret},
        )
        assert gettoken.json()["errcode"] == 0
        body = {"open_kfid": demo.keys.open_kfid, "msgtype": "text", "text": {"content": "你好"}}
        demo.simulator.control("POST", f"customers/{demo.keys.customer_ids[0]}/messages", body)
        wait_for(
            lambda: demo.simulator.control("GET", f"customers/{demo.keys.customer_ids[0]}/inbox")["messages"]
        )

        lines = banner_lines(
            urls=demo.urls,
            data_dir=demo.data_dir,
            env_file=demo.data_dir / "kefu.env",
            api_token=demo.keys.api_token,
            console_logins=demo.console_logins,
            host="0.0.0.0",
            control_token=token,
        )
        assert "on 0.0.0.0, reachable from the network" in lines[0]
        assert any(line.startswith("warning: listening on 0.0.0.0") and token in line for line in lines)


def test_the_demo_account_speaks_as_a_set_up_account_from_welcome_to_survey(
    tmp_path: Path,
) -> None:
    """The trial shows what Kefu sends, not a bare exchange: the welcome on entering, the notice
    naming the servicer who took the customer, the ending message and the survey."""
    with Demo(data_dir=tmp_path / "demo", port=0, sim_port=0) as demo:
        assert demo.simulator is not None and demo.keys is not None
        sim, keys = demo.simulator, demo.keys
        customer = keys.customer_ids[0]

        def inbox_texts() -> list[str]:
            inbox = sim.control("GET", f"customers/{customer}/inbox")["messages"]
            return [m["body"].get("content") or m["body"].get("head_content", "") for m in inbox]

        def has(text: str) -> Any:
            return lambda: any(text in t for t in inbox_texts())

        sim.control("POST", f"customers/{customer}/enter", {"open_kfid": keys.open_kfid})
        wait_for(has("欢迎咨询青禾家电售后"))
        body = {"open_kfid": keys.open_kfid, "msgtype": "text", "text": {"content": "转人工"}}
        sim.control("POST", f"customers/{customer}/messages", body)
        wait_for(has("人工客服张三已接入"))
        session = f"accounts/{keys.open_kfid}/sessions/{customer}"
        sim.control("POST", f"{session}/end", {"servicer_userid": "zhangsan"})
        wait_for(has("本次服务已结束"))
        wait_for(has("请为本次服务评价"))
