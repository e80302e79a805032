"""What every database-touching `kefu` sub-command shares: settings, schema, a Runtime, clean errors.

A command's work is an async function of the Runtime. A domain error, an unreadable
secret or an unreachable database ends the command with one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import stat
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import structlog
import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from kefu.errors import DomainError
from kefu.logs import configure_logging
from kefu.runtime import Runtime
from kefu.secretbox import SecretDecryptError
from kefu.settings import ConfigurationError, Settings, get_settings

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """One `error: …` line per problem (a config file may have several), exit code 2."""
    for line in message.splitlines() or [""]:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


def confirm(question: str) -> None:
    """Ask before what cannot be undone; go on only on yes (no: click's "Aborted!", exit 1).
    Without a terminal and with nothing on stdin (cron, CI) there is nobody to answer: one error
    line naming --yes, where click's prompt met end-of-input and said only "Aborted!"."""
    try:
        agreed = typer.confirm(question)
    except typer.Abort:
        if sys.stdin.isatty():  # Ctrl-C or Ctrl-D at the prompt: the person stopped it
            raise
        typer.echo()
        fail(f"nobody to answer {question!r} (no terminal, nothing on stdin): add --yes to go ahead")
    if not agreed:
        raise typer.Abort()


def write_out(out: Path, data: bytes) -> None:
    """A command's --out file, whole or not at all; a path that cannot be written is one error line.

    Written to a temporary file beside it, then renamed over it: a write cut off half-way (a full
    disk, a crash) left a truncated file under the final name, over the good one a cron job wrote
    the night before. What is not a regular file (`/dev/stdout`, a pipe) is written in place."""
    try:
        if out.exists() and not out.is_file() and not out.is_dir():
            out.write_bytes(data)
        else:
            replace_file(out, data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")


def replace_file(path: Path, data: bytes) -> None:
    """`path` holds `data`, whole, or is left as it was (write_out's way, for the files a command
    writes beside its --out file): an OSError names the file."""
    target = path.resolve()  # resolved: a symlink's target is replaced, not the link
    try:
        _replace(target, data)
    except OSError as exc:
        exc.filename = exc.filename or str(path)  # a failed write() names no file
        raise


def _replace(target: Path, data: bytes) -> None:
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    # A new file gets the mode write_bytes gave it (0o666 less the umask); a replaced one keeps its.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def read_settings() -> Settings:
    """The KEFU_* settings as given (no safety check: for commands that need no secret key)."""
    try:
        return get_settings()
    except ValidationError as exc:
        name = f"KEFU_{str(exc.errors()[0]['loc'][0]).upper()}"
        fail(f"invalid KEFU_* setting: {name}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")


def load_settings() -> Settings:
    settings = read_settings()
    try:
        settings.check()
    except ConfigurationError as exc:
        fail(str(exc))
    return settings


def shown_url(database_url: str) -> str:
    """The database URL as an error names it: whole, with its password as ***. (Cutting at the
    last "@" also cut a SQLite path that holds one.)"""
    try:
        url = make_url(database_url)
    except ArgumentError:
        # Not a URL (the settings check names such a value first): only what follows the last
        # "@", so whatever could be a password stays out of the line.
        return database_url.rsplit("@", 1)[-1]
    if url.password is None:
        return database_url  # nothing to hide: as written (rendering would escape a path's "@")
    if url.host and "@" in url.host:  # a password with an unescaped "@": its tail parsed as host
        url = url.set(host=url.host.rsplit("@", 1)[-1])
    return url.render_as_string(hide_password=True)


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached or opened is one line naming it (never its password)."""
    where = shown_url(settings.database_url)
    try:
        yield
    except DBAPIError as exc:
        fail(f"database error ({where}): {exc.orig or exc}")
    except OSError as exc:  # the SQLite file or its folder cannot be created
        fail(f"cannot open the database {where}: {exc.strerror or exc} ({exc.filename})")


def prepare_schema(settings: Settings) -> None:
    """SQLite is brought up to date here, as `kefu serve` does; PostgreSQL needs `kefu db upgrade`."""
    from kefu.db import migrate

    with database_errors(settings):
        if not migrate.pending(settings.database_url):
            return
        if settings.is_sqlite:
            migrate.upgrade(settings.database_url)
            return
    fail("the database schema is behind; run `kefu db upgrade` first")


class _CurrentStderr:
    """Logs of a command go to whatever sys.stderr is when they are written (stdout is its output)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _configure_logging(settings: Settings) -> None:
    # A command's own output says what happened; its logs show warnings unless asked for more.
    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    configure_logging(level, settings.log_json)
    # Not cached: a short command gains nothing from it, and in-process callers (tests) keep
    # loggers that follow a later reconfiguration.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]], *, configure_logs: bool = True) -> T:
    """Run `work` with a fresh Runtime. A one-shot command's logs go to stderr at WARNING
    (KEFU_LOG_LEVEL overrides); a long-running command that set up logging itself passes
    configure_logs=False. The previous logging setup is restored afterwards, so an in-process
    caller (a test) is left as it was."""
    settings = load_settings()
    previous_logging, previous_level = structlog.get_config(), logging.getLogger().level
    if configure_logs:
        _configure_logging(settings)

    async def main() -> T:
        rt = Runtime.build(settings)
        try:
            return await work(rt)
        finally:
            await rt.close()

    try:
        prepare_schema(settings)
        return asyncio.run(main())
    except DomainError as exc:
        fail(exc.message)
    except SecretDecryptError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        fail(f"database error ({shown_url(settings.database_url)}): {exc.orig or exc}")
    finally:
        structlog.configure(**previous_logging)
        logging.getLogger().setLevel(previous_level)


def echo_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, list):
        data = [item.model_dump(mode="json") for item in value]
    else:
        data = value
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
