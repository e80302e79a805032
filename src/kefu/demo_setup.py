"""What `kefu demo` adds to Kefu's side, and the banner it prints (kept apart from demo.py,
which wires the two servers).

- The demo account receives at any hour: a trial in the evening or at a weekend must show a
  servicer taking the customer who tapped 转人工, not the off-hours message.
- It speaks as a set-up account does (the texts of docs/config-example.yaml): a welcome on
  entering, a queue position and a "taken" notice on the way to a servicer, an ending message
  and a satisfaction survey. A real account starts with all of them off, as in WeCom's own
  console; a trial with them off shows a bare exchange and hides half of what Kefu sends.
- A ready API token, so the API docs page can be tried at once (`Authorize`).
- The servicers have names (张三, 李四, 王五), so the console shows them by name, not only 张三
  who has a console user.
- The banner's commands work as printed, from any directory: absolute paths.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import unicodedata
from pathlib import Path

from sqlalchemy import select

from kefu.accounts.models import KfAccount
from kefu.accounts.servicers import ServicerSpec, list_servicers, refresh_servicers, set_servicers
from kefu.accounts.settings import save_account_settings, settings_json, stored_settings
from kefu.api.models import ApiToken, ConsoleUser
from kefu.api.tokens import hash_token
from kefu.api.users import create_user, set_disabled, set_password
from kefu.runtime import Runtime

API_TOKEN_NAME = "kefu-demo"  # noqa: S105 — the token's name, not a token
ALL_DAY = ["00:00-24:00"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _fixed(text: str) -> dict[str, str]:
    return {"mode": "fixed", "text": text}


DEMO_QUEUE = {
    "pool_notice": {
        **_fixed("正在为您排队，您前面还有 {position} 位"),
        "next_in_line_text": "正在为您排队，您是下一位，请稍候",  # not 「您前面还有 0 位」
    },
    "taken_notice": _fixed("人工客服{servicer}已接入，请问有什么可以帮您？"),
}
DEMO_MESSAGES = {
    "welcome": _fixed("您好，欢迎咨询青禾家电售后，请问有什么可以帮您？"),
    "ending": _fixed("本次服务已结束，感谢您的咨询。"),
    "survey": {
        "mode": "fixed",
        "text": "请为本次服务评价：",
        "options": [
            {"label": "非常满意", "score": 5},
            {"label": "满意", "score": 4},
            {"label": "一般", "score": 3},
            {"label": "不满意", "score": 1},
        ],
    },
}


async def set_up_demo_account(rt: Runtime, open_kfid: str) -> bool:
    """Human reception every day, all day, and the messages of a set-up account, for the demo
    account — once: settings an admin has saved since (version > 0) are left alone. True when
    it set them."""
    async with rt.db.write() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == open_kfid).limit(1))
        if account is None or account.settings_version > 0:
            return False
        data = settings_json(stored_settings(account))
        data["hours"].update(weekly={day: ALL_DAY for day in WEEKDAYS}, statutory_holidays=False)
        data["queue"].update(DEMO_QUEUE)
        data["messages"].update(DEMO_MESSAGES)
        saved = await save_account_settings(
            session, account, data, changed_by="kefu demo", source="cli", now=rt.clock.now()
        )
    return saved is not None


async def name_servicers(rt: Runtime, open_kfid: str, names: dict[str, str]) -> bool:
    """Give the demo account's servicers their names — those still without one, so a name an
    admin has set stays. True when it named any."""
    async with rt.db.read() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == open_kfid).limit(1))
    if account is None:
        return False
    # The rows, as WeCom lists them: the refresh job the connection queued may not have run yet.
    await refresh_servicers(rt, account.id)
    async with rt.db.read() as session:
        rows = await list_servicers(session, account.id)
    if all(row.name or row.userid not in names for row in rows):
        return False
    specs = [ServicerSpec(r.userid, r.max_sessions, r.name or names.get(r.userid)) for r in rows]
    await set_servicers(rt, account.id, specs, actor="cli")
    return True


async def receives_all_day(rt: Runtime, open_kfid: str) -> bool:
    """Whether the demo account's hours are still every day, all day (an admin may have changed
    them since; the banner must not promise what the account no longer does)."""
    async with rt.db.read() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == open_kfid).limit(1))
        if account is None:
            return False
        hours = settings_json(stored_settings(account))["hours"]
    weekly = hours["weekly"]
    return all(weekly.get(day) == ALL_DAY for day in WEEKDAYS) and not (
        hours["statutory_holidays"] or hours["closed_dates"]
    )


async def ensure_api_token(rt: Runtime, token: str) -> None:
    """The demo's API token (kept in demo.json) is a valid token of this database."""
    async with rt.db.write() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.name == API_TOKEN_NAME))
        if row is not None and row.token_hash == hash_token(token):
            return
        if row is not None:  # a new demo.json: the old token goes
            await session.delete(row)
            await session.flush()
        session.add(
            ApiToken(
                name=API_TOKEN_NAME,
                token_hash=hash_token(token),
                prefix=token[:12],
                created_at=rt.clock.now(),
            )
        )


DEMO_ADMIN = "admin"


async def ensure_console_user(
    rt: Runtime,
    username: str,
    password: str,
    *,
    role: str,
    wecom_userid: str | None = None,
    display_name: str = "",
) -> None:
    """A console user the banner prints, signing in with demo.json's password."""
    async with rt.db.write() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
        if user is None:
            await create_user(
                session,
                username=username,
                password=password,
                role=role,
                wecom_userid=wecom_userid,
                display_name=display_name,
            )
            return
        await set_disabled(session, user, False)
        await set_password(session, user, password)


def kefu_command() -> str:
    """`kefu` as the person who started the demo can run it: `kefu` when that is on PATH, else
    the path of the running script (scripts/demo runs .venv/bin/kefu), else `python -m kefu.cli`."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "kefu" and argv0.exists():
        found = shutil.which("kefu")
        if found and Path(found).resolve() == argv0.resolve():
            return "kefu"
        return shlex.quote(str(argv0.absolute()))
    return f"{shlex.quote(sys.executable)} -m kefu.cli"


def banner_lines(
    *,
    urls: dict[str, str],
    data_dir: Path,
    env_file: Path,
    api_token: str,
    console_logins: list[tuple[str, str, str]],
    host: str,
    control_token: str | None,
    all_day: bool = True,
) -> list[str]:
    """What `kefu demo` prints once it serves; the line starting `Data:` comes last."""
    width = 24
    where = "on loopback" if control_token is None else f"on {host}, reachable from the network"
    lines = [f"Kefu demo is running: Kefu and a WeCom simulator {where}. Ctrl-C stops it."]
    lines += [f"  {_pad(label, width)} {url}" for label, url in urls.items()]
    lines.append(f"Kefu API token (API docs → Authorize, or Authorization: Bearer …): {api_token}")
    if "Kefu console (控制台)" in urls:
        logins = ", ".join(f"{user} / {password} ({who})" for user, password, who in console_logins)
        lines.append(f"Console logins (控制台登录, username / password): {logins}")
    if control_token is not None:
        lines.append(
            f"warning: listening on {host}: anyone who can reach these ports can use the demo "
            "(from another machine, use this machine's address with the ports above); the "
            f"simulator's pages and control API need this token: {control_token}"
        )
    if all_day:
        lines.append(
            "Human reception (人工接待) is open every day, all day, on the demo account: tap 转人工 "
            "and a servicer can take the customer at any hour."
        )
    else:
        lines.append(
            "Human reception (人工接待) follows the hours saved for the demo account (控制台 → "
            "接入后设置 → 人工接待时间): outside them 转人工 gets the off-hours message."
        )
    command = f"(set -a; . {shlex.quote(str(env_file.absolute()))}; {kefu_command()} conversations list)"
    lines.append(f"Data: {data_dir} (SQLite kefu.db). The kefu command on it: {command}")
    return lines


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal, where CJK characters take two columns."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)
