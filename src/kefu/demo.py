"""`kefu demo`: Kefu and the WeCom simulator in one process on loopback, wired together.

    with Demo(data_dir=Path(".kefu-demo"), port=0, sim_port=0) as demo:
        demo.urls  # customer page, servicer page, simulator, Kefu health and API docs

Kefu runs in development mode on SQLite (`<data-dir>/kefu.db`, migrations applied),
with `KEFU_WECOM_API_BASE` pointing at the simulator and one Clock shared by both.
The simulator keeps its world in memory, so it is seeded again at each start: the
demo corp 青禾家电 with the account 青禾家电售后, three servicers (all 接待中) and two
customers (kefu.demo_corp). Their credentials and ids come from `<data-dir>/demo.json` (made on the first
start, with Kefu's secret key and the demo's API token), so Kefu's saved connection, accounts
and customers keep working across restarts. The demo account receives at any hour
(demo_setup.py says why). Another address than loopback needs `allow_remote`, and then the
simulator's control API needs a token.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import SecretStr
from sqlalchemy import update

from kefu.accounts.connection_ops import CheckFailed, create_connection, recheck_connection, update_connection
from kefu.accounts.knowledge_base import import_demo_knowledge
from kefu.accounts.models import KfAccount
from kefu.accounts.service import find_connection
from kefu.app import create_app
from kefu.clock import Clock
from kefu.db import migrate
from kefu.demo_corp import SERVICERS, DemoKeys, seed_simulator, write_private
from kefu.demo_setup import (
    DEMO_ADMIN,
    banner_lines,
    ensure_api_token,
    ensure_console_user,
    name_servicers,
    receives_all_day,
    set_up_demo_account,
)
from kefu.runtime import Runtime
from kefu.settings import Settings
from kefu.simulator import SimulatorServer
from kefu.threaded_server import ThreadedServer, is_loopback

CONNECTION_NAME = "qinghe-demo"
ENV_FILE = "kefu.env"
VERIFY_ATTEMPTS = 3  # saving the callback URL in the simulator, verified by a GET each time


class DemoError(RuntimeError):
    """The demo cannot start; the message says why."""


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def connect_kefu(settings: Settings, clock: Clock, keys: DemoKeys) -> int:
    """Kefu's connection to the demo corp: created once, re-checked (accounts refreshed) after."""
    rt = Runtime.build(settings, clock=clock)
    try:
        async with rt.db.read() as session:
            existing = await find_connection(session, CONNECTION_NAME)
        credentials: dict[str, Any] = {
            "corp_id": keys.corpid,
            "secret": keys.corp_secret,
            "callback_token": keys.callback_token,
            "aes_key": keys.encoding_aes_key,
        }
        try:
            if existing is None:
                connection, _check = await create_connection(rt, name=CONNECTION_NAME, **credentials)
                await _prepare_demo_account(rt, keys)
                return connection.id
            # Same values: nothing changes. A replaced demo.json: the connection follows it.
            await update_connection(rt, existing.id, **credentials)
        except CheckFailed as exc:
            raise DemoError(f"Kefu could not connect to the simulator: {exc.message}") from exc
        connection, check = await recheck_connection(rt, existing.id)
        if not check.ok:
            raise DemoError(f"Kefu could not connect to the simulator: {check.message}")
        # The simulator's streams start empty at each start: a cursor (or sync token) saved
        # in the previous run points into a stream that no longer exists (40058).
        async with rt.db.write() as session:
            await session.execute(
                update(KfAccount)
                .where(KfAccount.connection_id == connection.id)
                .values(sync_cursor=None, sync_token=None, sync_token_expires_at=None)
            )
        await _prepare_demo_account(rt, keys)
        return connection.id
    finally:
        await rt.close()


async def _prepare_demo_account(rt: Runtime, keys: DemoKeys) -> None:
    """Each only when missing, so an admin's edits stay: the knowledge base the AI answers from,
    all-day reception hours, the API token and the console logins the banner prints (whether
    the hours are still all day: `Demo.receives_all_day`)."""
    await import_demo_knowledge(rt, keys.open_kfid)
    await set_up_demo_account(rt, keys.open_kfid)
    await name_servicers(rt, keys.open_kfid, dict(SERVICERS))
    await ensure_api_token(rt, keys.api_token)
    await ensure_console_user(rt, DEMO_ADMIN, keys.admin_password, role="admin")
    userid, name = SERVICERS[0]
    await ensure_console_user(
        rt, userid, keys.servicer_password, role="servicer", wecom_userid=userid, display_name=name
    )


async def _receives_all_day(settings: Settings, clock: Clock, open_kfid: str) -> bool:
    rt = Runtime.build(settings, clock=clock)
    try:
        return await receives_all_day(rt, open_kfid)
    finally:
        await rt.close()


class Demo:
    def __init__(
        self,
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        sim_port: int = 8001,
        clock: Clock | None = None,
        log_level: str = "WARNING",
        allow_remote: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.host, self.port, self.sim_port = host, port, sim_port
        self.allow_remote = allow_remote
        # Off loopback the simulator's control API (every secret, any customer's actions) needs it.
        self.control_token: str | None = None
        self.clock = clock or Clock()
        self.log_level = log_level
        self.simulator: SimulatorServer | None = None
        self.kefu: ThreadedServer | None = None
        self.settings: Settings | None = None
        self.keys: DemoKeys | None = None
        self.connection_id: int | None = None
        self.receives_all_day = True  # the account's hours, read once Kefu is connected

    def start(self) -> Demo:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise DemoError(
                    f"the demo listens on loopback only; {self.host} would put the simulator's "
                    "control API (every corp's secrets, any customer's actions) on the network. "
                    "Add --allow-remote to do it anyway: the control API then needs a token."
                )
            self.control_token = secrets.token_urlsafe(24)
        # The demo's own folder (keys, database): its owner's only, like the files in it.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.keys = keys = DemoKeys.load_or_create(self.data_dir)
        self.simulator = SimulatorServer(
            clock=self.clock, host=self.host, port=self.sim_port, control_token=self.control_token
        ).start()
        seed_simulator(self.simulator.state, keys)
        # Kefu and the simulator call each other in this process: loopback, even when bound to all.
        local = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        kefu_url = f"http://{local}:{self.port or _free_port(self.host)}"
        self.settings = Settings(
            env="development",
            database_url=f"sqlite:///{(self.data_dir / 'kefu.db').resolve()}",
            secret_key=SecretStr(keys.secret_key),
            wecom_api_base=self.simulator.url,
            public_url=kefu_url,
            log_level=self.log_level,
        )
        self._write_env_file()
        migrate.upgrade(self.settings.database_url)
        # Connect before Kefu serves: no second writer while the connection is stored.
        self.connection_id = asyncio.run(connect_kefu(self.settings, self.clock, keys))
        self.receives_all_day = asyncio.run(_receives_all_day(self.settings, self.clock, keys.open_kfid))
        app = create_app(settings=self.settings, clock=self.clock, run_worker=True)
        port = int(kefu_url.rsplit(":", 1)[1])
        self.kefu = ThreadedServer(app, host=self.host, port=port, name="kefu").start()
        # Like saving the URL in WeCom's console: the simulator verifies it with a GET first,
        # giving Kefu WeCom's 5 s. On a busy machine Kefu's first request, just after start-up,
        # can take longer: saved again, as a person would press 保存 again.
        callback = {"url": f"{self.kefu.url}/wecom/callback/{self.connection_id}", "verify": True}
        for attempt in range(1, VERIFY_ATTEMPTS + 1):
            try:
                self.simulator.control("PUT", f"corps/{keys.corpid}/callback", callback)
                break
            except httpx.HTTPStatusError as exc:
                if "verification request failed" not in exc.response.text or attempt == VERIFY_ATTEMPTS:
                    raise

    def _write_env_file(self) -> None:
        """`set -a; . <data-dir>/kefu.env` points the `kefu` command at the demo's database."""
        assert self.settings is not None and self.settings.secret_key is not None
        lines = [
            "KEFU_ENV=development",
            f"KEFU_DATABASE_URL={self.settings.database_url}",
            f"KEFU_SECRET_KEY={self.settings.secret_key.get_secret_value()}",
            f"KEFU_WECOM_API_BASE={self.settings.wecom_api_base}",
            f"KEFU_PUBLIC_URL={self.settings.public_url}",
        ]
        write_private(self.data_dir / ENV_FILE, "\n".join(lines) + "\n")

    def stop(self) -> None:
        if self.kefu is not None:
            self.kefu.stop()
        if self.simulator is not None:
            self.simulator.stop()

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def console_logins(self) -> list[tuple[str, str, str]]:
        """(username, password, who) of the console users the demo keeps."""
        assert self.keys is not None
        userid, name = SERVICERS[0]
        return [
            (DEMO_ADMIN, self.keys.admin_password, "管理员 admin"),
            (userid, self.keys.servicer_password, f"客服 {name}"),
        ]

    @property
    def urls(self) -> dict[str, str]:
        """What a person opens, labelled: only what exists in this build."""
        assert self.simulator is not None and self.kefu is not None
        sim, kefu = self.simulator.url, self.kefu.url
        # A page opened once with the control token keeps it in a cookie (simulator/access.py).
        token = f"?token={self.control_token}" if self.control_token else ""
        urls = {
            "Customer page (客户)": f"{sim}/_sim/customer{token}",
            "Servicer page (客服)": f"{sim}/_sim/servicer{token}",
            "Simulator (模拟器)": f"{sim}/_sim/{token}",
            "Kefu health": f"{kefu}/healthz",
            "Kefu API docs": f"{kefu}/api/docs",
        }
        urls["Kefu console (控制台)"] = f"{kefu}/console/"
        return urls


def run_demo(
    *,
    data_dir: Path,
    host: str,
    port: int,
    sim_port: int,
    log_level: str = "WARNING",
    allow_remote: bool = False,
) -> None:
    """Start, print the URLs, serve until Ctrl-C (SIGINT) or SIGTERM, then stop cleanly."""
    from kefu.app import settle_process
    from kefu.logs import configure_logging

    configure_logging(log_level)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    demo = Demo(
        data_dir=data_dir,
        host=host,
        port=port,
        sim_port=sim_port,
        log_level=log_level,
        allow_remote=allow_remote,
    )
    demo.start()
    assert demo.settings is not None
    settle_process(demo.settings.database_url)
    try:
        assert demo.keys is not None
        for line in banner_lines(
            urls=demo.urls,
            data_dir=data_dir,
            env_file=data_dir / ENV_FILE,
            api_token=demo.keys.api_token,
            console_logins=demo.console_logins,
            host=host,
            control_token=demo.control_token,
            all_day=demo.receives_all_day,
        ):
            typer.echo(line)
        stop.wait()
        typer.echo("Stopping…")
    finally:
        demo.stop()


def demo_command(
    host: str = typer.Option("127.0.0.1", help="Address of both servers (loopback unless --allow-remote)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Kefu's port (0 picks a free one)."),
    sim_port: int = typer.Option(
        8001, min=0, max=65535, help="The WeCom simulator's port (0 picks a free one)."
    ),
    data_dir: Path = typer.Option(Path(".kefu-demo"), help="Where the demo keeps its database and keys."),
    log_level: str = typer.Option("WARNING", help="Kefu's log level (INFO shows every callback and sync)."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a non-loopback --host; the simulator pages and control API then need the printed token.",
    ),
) -> None:
    """Start Kefu wired to a built-in WeCom simulator with a demo corp, and print the URLs."""
    try:
        run_demo(
            data_dir=data_dir,
            host=host,
            port=port,
            sim_port=sim_port,
            log_level=log_level.upper(),
            allow_remote=allow_remote,
        )
    except OSError as exc:
        typer.echo(f"error: {exc} (is another program using port {port} or {sim_port}?)", err=True)
        raise typer.Exit(2) from exc
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
