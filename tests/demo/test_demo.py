"""`kefu demo`: one command starts Kefu and the simulator wired together, prints URLs that
answer, stores what a customer writes, stops on Ctrl-C, and restarts onto the same data."""

from __future__ import annotations

import os
import queue
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.demo import CONNECTION_NAME, Demo
from kefu.demo_corp import CUSTOMERS, SERVICERS
from kefu.demo_setup import banner_lines

pytestmark = pytest.mark.slow

RUN_CLI = "from kefu.cli import app; app()"
# The script scripts/demo runs (.venv/bin/kefu), when the tests run from that venv.
KEFU_SCRIPT = Path(sys.executable).parent / "kefu"
URL_LINE = re.compile(r"^\s+(.+?)\s+(http://\S+)$")


def stored(db: Path, msgid: str, timeout_s: float = 20.0) -> bool:
    """Wait until Kefu has stored the message (its worker pulls after the callback)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM messages WHERE msgid = ?", (msgid,)).fetchone()[0]:
                return True
        time.sleep(0.1)  # real time: Kefu runs in other threads or another process
    return False


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def say(sim_url: str, customer: str, open_kfid: str, text: str) -> str:
    body = {"open_kfid": open_kfid, "msgtype": "text", "text": {"content": text}}
    answer = httpx.post(f"{sim_url}/_sim/api/customers/{customer}/messages", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["item"]["msgid"])


def test_the_command_prints_urls_that_answer_stores_a_message_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    kefu = [str(KEFU_SCRIPT)] if KEFU_SCRIPT.exists() else [sys.executable, "-c", RUN_CLI]
    process = subprocess.Popen(
        [*kefu, "demo", "--port", "0", "--sim-port", "0", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True)
    reader.start()
    printed: list[str] = []
    try:
        while not printed or not printed[-1].startswith("Data:"):
            printed.append(lines.get(timeout=60).rstrip("\n"))
        urls = dict(m.groups() for line in printed if (m := URL_LINE.match(line)))
        assert set(urls) == {
            "Customer page (客户)",
            "Servicer page (客服)",
            "Simulator (模拟器)",
            "Kefu health",
            "Kefu API docs",
            "Kefu console (控制台)",
        }, printed
        for url in urls.values():
            assert httpx.get(url, timeout=10, follow_redirects=True).status_code == 200, url
        assert "青禾家电售后" in httpx.get(urls["Simulator (模拟器)"], timeout=10).text

        sim = urls["Simulator (模拟器)"].removesuffix("/_sim/")
        corp = httpx.get(f"{sim}/_sim/api/corps", timeout=10).json()[0]
        customer = httpx.get(f"{sim}/_sim/api/corps/{corp['corpid']}/customers", timeout=10).json()[
            "customers"
        ][0]
        msgid = say(sim, customer["external_userid"], corp["open_kfids"][0], "你好，冰箱不制冷")
        assert stored(data / "kefu.db", msgid)

        # The API token works on the docs page's API as printed.
        token = next(line for line in printed if line.startswith("Kefu API token")).rsplit(" ", 1)[1]
        docs_base = urls["Kefu API docs"].removesuffix("/api/docs")
        listed = httpx.get(f"{docs_base}/api/v1/connections", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()[0]["name"] == CONNECTION_NAME

        # The console's admin login works as printed.
        logins = next(line for line in printed if line.startswith("Console logins"))
        password = logins.split("admin / ", 1)[1].split(" ", 1)[0]
        with httpx.Client(base_url=urls["Kefu console (控制台)"].removesuffix("/console/")) as browser:
            form = browser.get("/console/login").text
            csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed = browser.post(
                "/console/login", data={"username": "admin", "password": password, "csrf_token": csrf}
            )
            assert signed.status_code == 303 and browser.get("/console/").status_code == 200

        # The banner's kefu command works as printed, from another directory, in a plain shell.
        command = printed[-1].split("The kefu command on it: ", 1)[1]
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        deadline = time.monotonic() + 60
        while True:  # the message is stored; its conversation appears once it has been processed
            ran = subprocess.run(
                ["/bin/sh", "-c", command],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=elsewhere,
                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no venv on PATH
            )
            assert ran.returncode == 0, ran.stderr
            if customer["external_userid"] in ran.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # real time: the demo runs in another process
        assert customer["external_userid"] in ran.stdout
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    reader.join(timeout=5)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert code == 0 and "Stopping…" in "".join(rest), printed + rest


def test_a_restart_keeps_the_connection_account_and_customers(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    with Demo(data_dir=data, port=0, sim_port=0) as first:
        assert first.keys is not None and first.simulator is not None
        keys, connection_id = first.keys, first.connection_id
        corp = first.simulator.control("GET", f"corps/{keys.corpid}")
        assert corp["name"] == "青禾家电" and corp["open_kfids"] == [keys.open_kfid]
        assert [(m["userid"], m["name"], m["status"]) for m in corp["members"]] == [
            (userid, name, 0)
            for userid, name in SERVICERS  # all 接待中
        ]
        assert corp["callback_url"] == f"{first.kefu.url}/wecom/callback/{connection_id}"  # type: ignore[union-attr]
        assert stored(
            data / "kefu.db", say(first.simulator.url, keys.customer_ids[0], keys.open_kfid, "第一次")
        )
        # Customer messages: the folder and the database files are the owner's only.
        db_files = [data / "kefu.db", data / "kefu.db-wal", data / "kefu.db-shm", data / "kefu.env"]
        assert [stat.S_IMODE(p.stat().st_mode) for p in db_files] == [0o600] * 4
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # The servicers have their names, so the console shows 张三, 李四, 王五 (not lisi, wangwu).
    names = "SELECT userid, name FROM servicers ORDER BY position"
    assert rows(data / "kefu.db", names) == list(SERVICERS)
    rows(data / "kefu.db", "UPDATE servicers SET name = '王小五' WHERE userid = 'wangwu'")  # an admin's

    with Demo(data_dir=data, port=0, sim_port=0) as second:
        assert second.keys == keys and second.connection_id == connection_id and second.simulator is not None
        customers = second.simulator.control("GET", f"corps/{keys.corpid}/customers")["customers"]
        assert [(c["external_userid"], c["nickname"]) for c in customers] == list(
            zip(keys.customer_ids, CUSTOMERS, strict=True)
        )
        callback = second.simulator.control("GET", f"corps/{keys.corpid}")["callback_url"]
        assert callback == f"{second.kefu.url}/wecom/callback/{connection_id}"  # type: ignore[union-attr]
        assert stored(
            data / "kefu.db", say(second.simulator.url, keys.customer_ids[0], keys.open_kfid, "又来了")
        )
        env = (data / "kefu.env").read_text()
        assert f"KEFU_WECOM_API_BASE={second.simulator.url}\n" in env and "KEFU_ENV=development\n" in env

    db = data / "kefu.db"
    assert rows(db, "SELECT name, corp_id, last_check_ok FROM connections") == [
        (CONNECTION_NAME, keys.corpid, 1)
    ]
    assert rows(db, "SELECT open_kfid, authorized FROM kf_accounts") == [(keys.open_kfid, 1)]
    assert rows(db, names) == [*SERVICERS[:2], ("wangwu", "王小五")]  # the admin's name stays
    assert rows(db, "SELECT DISTINCT external_userid FROM messages") == [(keys.customer_ids[0],)]
    assert stat.S_IMODE((data / "demo.json").stat().st_mode) == 0o600


def test_new_demo_keys_repoint_the_saved_connection(tmp_path: Path) -> None:
    """A lost demo.json means a new secret key and a new corp: the connection follows them."""
    data = tmp_path / "demo-data"
    with Demo(data_dir=data, port=0, sim_port=0) as first:
        assert first.keys is not None
        old_corpid, connection_id = first.keys.corpid, first.connection_id
    (data / "demo.json").unlink()
    with Demo(data_dir=data, port=0, sim_port=0) as second:
        assert second.keys is not None and second.simulator is not None
        assert second.keys.corpid != old_corpid and second.connection_id == connection_id
        msgid = say(second.simulator.url, second.keys.customer_ids[1], second.keys.open_kfid, "换了钥匙")
        assert stored(data / "kefu.db", msgid)
    assert rows(data / "kefu.db", "SELECT corp_id FROM connections") == [(second.keys.corpid,)]


def test_a_restart_after_the_hours_changed_does_not_promise_all_day_reception(tmp_path: Path) -> None:
    """The demo leaves an admin's hours alone on a restart; its banner still said reception was
    open every day, all day, and the trial met the off-hours message instead."""
    data = tmp_path / "demo-data"
    with Demo(data_dir=data, port=0, sim_port=0) as first:
        assert first.keys is not None and first.kefu is not None and first.receives_all_day
        auth = {"Authorization": f"Bearer {first.keys.api_token}"}
        (account,) = httpx.get(f"{first.kefu.url}/api/v1/accounts", headers=auth).json()
        url = f"{first.kefu.url}/api/v1/accounts/{account['id']}/settings"
        settings = httpx.get(url, headers=auth).json()
        settings["hours"]["weekly"]["sun"] = []
        httpx.put(url, headers=auth, json=settings).raise_for_status()

    with Demo(data_dir=data, port=0, sim_port=0) as second:
        assert second.keys is not None and not second.receives_all_day
        lines = banner_lines(
            urls=second.urls,
            data_dir=data,
            env_file=data / "kefu.env",
            api_token=second.keys.api_token,
            console_logins=second.console_logins,
            host="127.0.0.1",
            control_token=None,
            all_day=second.receives_all_day,
        )
    assert not any("every day, all day" in line for line in lines)
    assert any("follows the hours saved for the demo account" in line for line in lines)
