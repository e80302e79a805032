"""Console users: argon2 password hashes, sign-in with throttling, and server-side sessions.

Sessions and throttling run on real time, not the domain clock: the tests and the simulator
move the domain clock by days, which must not sign anyone out or lift a lockout."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.api.models import ConsoleSession, ConsoleUser, LoginFailure
from kefu.audit.log import record
from kefu.errors import Conflict, DomainError, Invalid, NotFound

ROLES = ("admin", "supervisor", "servicer")
USERNAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD = 8
MAX_NAME = 64  # a display name and a WeCom userid (WeCom's own limit), as their columns
SESSION_LIFETIME = timedelta(hours=12)
# Five wrong passwords for one username, or twenty from one address, within 15 minutes lock
# that key until the window ends: enough for typos, too few to guess a password.
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20

_hasher = PasswordHasher()
# Verified when the username is unknown, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"


def real_now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"password must be at least {MIN_PASSWORD} characters", "password_short", {"min": MIN_PASSWORD}
        )


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    wecom_userid: str | None = None,
    display_name: str = "",
    actor: str | None = None,
) -> ConsoleUser:
    """A new user; with an `actor` the creation is audited (never the password)."""
    username = username.strip()
    if not USERNAME.match(username):
        raise Invalid("username: 1-64 letters, digits, Chinese characters or _ . @ -", "bad_username")
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", "bad_role")
    if role == "servicer" and not wecom_userid:
        raise Invalid(
            "a servicer user needs --wecom-userid: it decides which accounts they see",
            "servicer_needs_userid",
        )
    # Their columns hold 64 characters: PostgreSQL refused a longer one with a 500, SQLite kept it.
    if len(display_name) > MAX_NAME:
        raise Invalid(f"display name: at most {MAX_NAME} characters", "display_name_long", {"max": MAX_NAME})
    if wecom_userid and len(wecom_userid) > MAX_NAME:
        raise Invalid(f"WeCom userid: at most {MAX_NAME} characters", "userid_long", {"max": MAX_NAME})
    check_password_rules(password)
    if await session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
        raise Conflict(f"a user named {username!r} already exists", "username_taken", {"username": username})
    user = ConsoleUser(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        wecom_userid=wecom_userid or None,
        display_name=display_name or username,
        disabled=False,
        created_at=real_now(),
    )
    session.add(user)
    await session.flush()
    if actor is not None:
        await record(
            session, actor=actor, action="user.create", target=user_target(user), after=_audited(user)
        )
    return user


def user_target(user: ConsoleUser) -> str:
    return f"user:{user.username}"


def _audited(user: ConsoleUser) -> dict[str, object]:
    return {
        "role": user.role,
        "wecom_userid": user.wecom_userid,
        "display_name": user.display_name,
        "disabled": user.disabled,
    }


# The console users bound to a WeCom userid, oldest first: whose display names name servicers
# (`names_people_know`), to customers (kefu.reception) and in the console alike.
BOUND_USERS = (
    select(ConsoleUser.wecom_userid, ConsoleUser.display_name, ConsoleUser.username)
    .where(ConsoleUser.wecom_userid.is_not(None))
    .order_by(ConsoleUser.id)
)


def names_people_know(bound_users: Iterable[tuple[str | None, str, str]]) -> dict[str, str]:
    """userid → the display name of the first of `bound_users` (BOUND_USERS rows) bound to it
    whose name is one people know: not a display name left blank (create_user stores the
    username then, a login) nor the userid itself (often an employee or phone number)."""
    names: dict[str, str] = {}
    for userid, name, username in bound_users:
        if userid and name and name not in (userid, username):
            names.setdefault(userid, name)
    return names


async def list_users(session: AsyncSession) -> list[ConsoleUser]:
    return list((await session.scalars(select(ConsoleUser).order_by(ConsoleUser.id))).all())


async def find_user(session: AsyncSession, username: str) -> ConsoleUser:
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


async def set_password(
    session: AsyncSession, user: ConsoleUser, password: str, *, actor: str | None = None
) -> None:
    check_password_rules(password)
    user.password_hash = _hasher.hash(password)
    if actor is not None:  # the audit log says only that it changed
        await record(
            session,
            actor=actor,
            action="user.password",
            target=user_target(user),
            before={"password": "old"},
            after={"password": "new"},
        )
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


async def set_disabled(
    session: AsyncSession, user: ConsoleUser, disabled: bool, *, actor: str | None = None
) -> None:
    before = _audited(user)
    user.disabled = disabled
    if actor is not None:
        await record(
            session,
            actor=actor,
            action="user.update",
            target=user_target(user),
            before=before,
            after=_audited(user),
        )
    if disabled:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


async def _failures(session: AsyncSession, key: str, now: datetime) -> LoginFailure | None:
    row = await session.get(LoginFailure, key)
    if row is not None and now - row.window_started_at >= FAILURE_WINDOW:
        await session.delete(row)
        await session.flush()
        return None
    return row


async def _record_failure(session: AsyncSession, key: str, now: datetime) -> None:
    row = await _failures(session, key, now)
    if row is None:
        session.add(LoginFailure(key=key, count=1, window_started_at=now))
    else:
        row.count += 1


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    token: str  # for the cookie; only its hash is stored
    csrf_token: str


async def sign_in(session: AsyncSession, *, username: str, password: str, address: str) -> SignedIn | None:
    """A new session for the right password, None for a wrong one; TooManyAttempts while the
    username or the address is locked (checked before the password, so a lock cannot be probed)."""
    now = real_now()
    user_key, address_key = f"user:{username.strip().lower()}"[:128], f"addr:{address}"[:128]
    for key, limit in ((user_key, MAX_FAILURES_PER_USER), (address_key, MAX_FAILURES_PER_ADDRESS)):
        row = await _failures(session, key, now)
        if row is not None and row.count >= limit:
            wait = row.window_started_at + FAILURE_WINDOW - now
            minutes = int(wait.total_seconds() // 60) + 1
            raise TooManyAttempts(f"too many failed sign-ins; try again in {minutes} min")
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username.strip()))
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        await _record_failure(session, user_key, now)
        await _record_failure(session, address_key, now)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    await session.execute(delete(LoginFailure).where(LoginFailure.key == user_key))
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(
        ConsoleSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    user.last_login_at = now
    await session.flush()
    return SignedIn(user=user, token=token, csrf_token=csrf)


async def session_user(session: AsyncSession, token: str) -> tuple[ConsoleUser, ConsoleSession] | None:
    """The signed-in user and their session for a cookie's token, or None (unknown, expired, disabled)."""
    row = await session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))
    if row is None or row.expires_at <= real_now():
        return None
    user = await session.get(ConsoleUser, row.user_id)
    if user is None or user.disabled:
        return None
    return user, row


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))
