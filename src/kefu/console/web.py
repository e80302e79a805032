"""What every console page shares: who is signed in, their role, CSRF, the templates.

A page handler declares its audience with a dependency — `Depends(signed_in)` for anyone
signed in, `Depends(role("admin"))` for some roles — and renders with `render()`. Anonymous
browsers are sent to the login page; a signed-in user without the role gets a 403 page.
Every POST goes through `form()`, which refuses it without the session's CSRF token (a hidden
`csrf_token` field, or the `X-CSRF-Token` header that htmx requests carry), and refuses text no
database column can store (NUL) in a field, the path or the query with a 422 page, before any
handler writes: PostgreSQL refused it with a 500 deep inside. A form whose text is not UTF-8 is
refused with a 400 page (kefu.console.form_body)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from kefu.accounts.models import Servicer
from kefu.api.models import ConsoleUser
from kefu.api.routes import passed_on
from kefu.api.users import BOUND_USERS, names_people_know, session_user
from kefu.console.form_body import FormUndecodable, FormUnreadable, read_form
from kefu.console.i18n import LANG_COOKIE, language_of, problem_words, translator
from kefu.console.menu import menu_for
from kefu.db.base import storable
from kefu.errors import DomainError
from kefu.hours.schema import DEFAULT_TIMEZONE
from kefu.runtime import Runtime
from kefu.schema_types import problem_of

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "kefu_console"
templates = Jinja2Templates(directory=HERE / "templates")
# Times are stored in UTC; people read them in Kefu's default zone (Asia/Shanghai), the zone an
# account's reception hours default to.
DISPLAY_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


def local_time(at: datetime, fmt: str) -> str:
    """`{{ at|local("%m-%d %H:%M") }}`: a stored time as the console shows it."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(DISPLAY_ZONE).strftime(fmt)


templates.env.filters["local"] = local_time
ASSET_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(STATIC_DIR.glob("*")) if p.is_file())
).hexdigest()[:10]


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page (htmx: HX-Redirect)."""


class Forbidden(Exception):
    """Signed in, but this page is not for their role."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


class Unstorable(Exception):
    """A field, the path or the query holds text no database column can store (NUL)."""


def check_storable(request: Request) -> None:
    """The path and the query of a console request: Unstorable when they hold NUL."""
    if not storable(request.scope["path"]) or not storable(list(request.query_params.values())):
        raise Unstorable


@dataclass(frozen=True)
class ServicerNames:
    """How the console names a servicer (a WeCom userid): by the display name of the console
    user bound to that userid — the name people know — else by the name an admin gave the
    servicer (接待人员), else by the userid. A name two servicers share carries the userid
    too: `{{ servicer(userid) }}` in every template."""

    names: dict[str, str] = field(default_factory=dict)

    def name(self, userid: str | None) -> str | None:
        """The display name, or None when the userid has none of its own."""
        return self.names.get(userid or "")

    def __call__(self, userid: str | None) -> str:
        name = self.name(userid)
        if not name or not userid:
            return userid or ""
        shared = sum(1 for other in self.names.values() if other == name) > 1
        return f"{name}（{userid}）" if shared else name


async def servicer_names(session: AsyncSession) -> ServicerNames:
    """The names people know of the console users bound to a userid (kefu.api.users: not a
    login, not the userid), then the servicers' own names for the other userids. A userid named
    differently on two accounts goes by the name of the servicer row added first."""
    names = names_people_know(await session.execute(BOUND_USERS))
    servicers = await session.execute(
        select(Servicer.userid, Servicer.name).where(Servicer.name.is_not(None)).order_by(Servicer.id)
    )
    for userid, given in servicers.all():
        if given and given != userid:
            names.setdefault(userid, given)
    return ServicerNames(names)


@dataclass
class Viewer:
    """The signed-in user of this request and what they may see."""

    user: ConsoleUser
    csrf_token: str
    lang: str
    t: Callable[..., str]
    # Accounts a servicer receives for (None: every account, for admins and supervisors).
    account_ids: frozenset[int] | None = field(default=None)
    servicers: ServicerNames = field(default_factory=ServicerNames)
    session_id: int = 0  # the console_sessions row: whose notices a page may read (kefu.api.notices)

    @property
    def role(self) -> str:
        return self.user.role

    def sees_account(self, account_id: int) -> bool:
        return self.account_ids is None or account_id in self.account_ids


def console_actor(viewer: Viewer) -> str:
    """Who a console change is audited as."""
    return f"console:{viewer.user.username}"


def refusal_words(viewer: Viewer, scope: str, exc: DomainError) -> str:
    """A service's refusal in the reader's language (`<scope>.problem.<code>`, see
    i18n.problem_words), a `servicer` it names called by the name people know."""
    values: dict[str, object] = dict(exc.values)
    if isinstance(values.get("servicer"), str):
        values["servicer"] = viewer.servicers(str(values["servicer"]))
    return problem_words(viewer.t, scope, exc.problem, values, exc.message)


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _servicer_accounts(session: AsyncSession, userid: str | None) -> frozenset[int]:
    if not userid:
        return frozenset()
    rows = await session.scalars(select(Servicer.account_id).where(Servicer.userid == userid))
    return frozenset(rows.all())


async def signed_in(request: Request) -> Viewer:
    """The request's Viewer, or LoginRequired."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    check_storable(request)
    async with runtime_of(request).db.read() as session:
        found = await session_user(session, token)
        if found is None:
            raise LoginRequired
        user, row = found
        accounts = await _servicer_accounts(session, user.wecom_userid) if user.role == "servicer" else None
        names = await servicer_names(session)
    lang = language_of(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    viewer = Viewer(
        user=user,
        csrf_token=row.csrf_token,
        lang=lang,
        t=translator(lang),
        account_ids=accounts,
        servicers=names,
        session_id=row.id,
    )
    request.state.viewer = viewer
    return viewer


def role(*allowed: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the Viewer if their role is one of `allowed`, else Forbidden."""

    async def check(request: Request) -> Viewer:
        viewer = await signed_in(request)
        if viewer.role not in allowed:
            raise Forbidden
        return viewer

    return check


async def form(request: Request, viewer: Viewer, *, files: Collection[str] = ()) -> FormData:
    """The POSTed form (its text UTF-8: kefu.console.form_body), once its CSRF token matches the
    session's; the files named in `files` are left open for `take_upload`, unless it is refused."""
    data = await read_form(request, files=files)
    given = str(data.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    refusal: Exception | None = None
    if not hmac.compare_digest(given.encode(), viewer.csrf_token.encode()):
        refusal = CsrfRefused()
    elif not storable([v for _, v in data.multi_items() if isinstance(v, str)]):
        refusal = Unstorable()
    if refusal is not None:
        await data.close()  # no handler will read its files
        raise refusal
    return data


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    lang = (
        viewer.lang
        if viewer
        else language_of(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )
    known_paths = {path for _, path in request.app.state.console_routes}
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "t": viewer.t if viewer else translator(lang),
            "lang": lang,
            "asset_version": ASSET_VERSION,
            "menu": menu_for(viewer.role if viewer else None, known_paths),
            "current_path": request.url.path,
            "servicer": viewer.servicers if viewer else ServicerNames(),
            **context,
        },
        status_code=status_code,
    )


def redirect(url: str) -> Response:
    """After a successful POST (303: the browser GETs it); for htmx, a client-side redirect."""
    return RedirectResponse(url, status_code=303)


def _lang_of(request: Request) -> str:
    return language_of(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def install_console_errors(app: Any) -> None:
    # Outside the console, a request validation error goes to the handler installed before this
    # one (the REST API's JSON), as the API's handler passes the console's on: either may go first.
    outside_console = app.exception_handlers.get(RequestValidationError, request_validation_exception_handler)
    http_outside_console = app.exception_handlers.get(HTTPException, http_exception_handler)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        target = "/console/login?next=" + quote(request.url.path)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        return render(request, "forbidden.html", status_code=403)

    async def on_csrf(request: Request, exc: Exception) -> Response:
        return render(request, "forbidden.html", status_code=403, csrf=True)

    def error_page(status_code: int, key: str) -> Callable[[Request, Exception], Awaitable[Response]]:
        """The error page saying `key` in the reader's language, for a refusal before any handler."""

        async def on_refusal(request: Request, exc: Exception) -> Response:
            viewer: Viewer | None = getattr(request.state, "viewer", None)
            t = viewer.t if viewer else translator(_lang_of(request))
            return render(request, "error.html", status_code=status_code, message=t(key))

        return on_refusal

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        # A service refused (no such row, a conflict): API routes answer JSON themselves, so
        # what reaches here is a console page; it shows the refusal as `errors.problem.<code>`.
        assert isinstance(exc, DomainError)
        viewer: Viewer | None = getattr(request.state, "viewer", None)
        if viewer is None:
            words = problem_words(
                translator(_lang_of(request)), "errors", exc.problem, exc.values, exc.message
            )
        else:
            words = refusal_words(viewer, "errors", exc)
        return render(request, "error.html", status_code=exc.status_code, message=words)

    async def on_invalid_request(request: Request, exc: Exception) -> Response:
        # A page's query or path refused by FastAPI (a search longer than its limit, a page
        # number that is not one): the error page words each of pydantic's error types as
        # `settings.problem.<type>`, as a settings form does, instead of FastAPI's JSON.
        assert isinstance(exc, RequestValidationError)
        if not request.url.path.startswith("/console"):
            return await passed_on(outside_console, request, exc)
        viewer: Viewer | None = getattr(request.state, "viewer", None)
        t = viewer.t if viewer else translator(_lang_of(request))
        parts = []
        for err in exc.errors():
            p = problem_of(err, {})
            words = problem_words(t, "settings", p.problem, p.values, p.reason)
            parts.append(t("error.bad_request_value", name=str(err["loc"][-1]), words=words))
        return render(request, "error.html", status_code=422, message=t("error.separator").join(parts))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        # A console address that is no page (a mistyped or stale link, a POST-only action opened
        # in the address bar) gets the console's page in the reader's language, not FastAPI's JSON.
        assert isinstance(exc, HTTPException)
        if exc.status_code not in (404, 405) or not request.url.path.startswith("/console"):
            return await passed_on(http_outside_console, request, exc)
        return await error_page(exc.status_code, "error.no_such_page")(request, exc)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Forbidden, on_forbidden)
    app.add_exception_handler(CsrfRefused, on_csrf)
    app.add_exception_handler(Unstorable, error_page(422, "error.unstorable"))
    app.add_exception_handler(FormUnreadable, error_page(400, "error.form_unreadable"))
    app.add_exception_handler(FormUndecodable, error_page(400, "error.form_not_utf8"))
