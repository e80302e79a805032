"""The WeCom client's transport: access token (cache + single-flight), one HTTP exchange, retries.

Every call carries `access_token` in the query string and decides on
`errcode` alone (wecom-kf-api.md §0). A token WeCom rejects
(40014/42001/41001) is dropped from the cache, refetched once and the call
retried once. `_retrying` retries errcode -1 and transport errors with
exponential backoff; which endpoints may use it is decided in client.py.

Nothing here logs a URL: the gettoken URL holds the secret, the others the token. The HTTP
client is aiohttp (kefu.http_client: a tenth of httpx's CPU per call).
"""

from __future__ import annotations

import asyncio
import email.message
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from kefu import metrics
from kefu.clock import Clock
from kefu.http_client import HttpAnswer, HttpClient, HttpClientError
from kefu.logs import get_logger
from kefu.wecom.errors import SYSTEM_BUSY, WeComError, WeComTransportError
from kefu.wecom.results import MediaFile
from kefu.wecom.tokens import TokenCache

log = get_logger(__name__)

MAX_RETRIES = 3
TOKEN_MARGIN = timedelta(seconds=60)  # a cached token is used until 60 s before it expires
FETCH_CLAIM_S = 15.0  # how long one process may hold the right to fetch the token (gettoken's retries)
FETCH_POLL_S = 0.1


# One lock per (event loop, corp, secret): concurrent callers in a process share one gettoken.
_token_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _token_lock(corp_id: str, secret: str) -> asyncio.Lock:
    per_loop = _token_locks.setdefault(asyncio.get_running_loop(), {})
    key = (corp_id, hashlib.sha256(secret.encode()).hexdigest())
    return per_loop.setdefault(key, asyncio.Lock())


@dataclass(frozen=True)
class WeComRequest:
    endpoint: str  # the path after /cgi-bin/, also the name in errors and logs
    method: str = "POST"
    json: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str] | None = None
    binary: bool = False  # media/get: bytes, or a JSON error
    authed: bool = True


class WeComTransport:
    def __init__(
        self,
        *,
        base_url: str,
        corp_id: str,
        secret: str,
        http: HttpClient,
        token_cache: TokenCache,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_base_s: float = 0.5,
    ) -> None:
        base = base_url.rstrip("/")
        self._base = base.removesuffix("/cgi-bin")  # accept the base with or without /cgi-bin
        self.corp_id = corp_id
        self._secret = secret
        self._http = http
        self._cache = token_cache
        self._clock = clock
        self._sleep = sleep
        self._retry_base_s = retry_base_s

    # ---- access token (§1) ----

    async def get_token(self, *, force: bool = False) -> str:
        """A valid access token; `force` fetches a new one even if the cached one looks fresh."""
        if not force and (token := await self._cached_token()):
            return token
        async with _token_lock(self.corp_id, self._secret):
            # Whoever held the lock before us may have fetched one already.
            before = await self._cached_token()
            if not force and before:
                return before
            if not await self._cache.claim_fetch(FETCH_CLAIM_S):
                # Another process is fetching: its token serves us too (see tokens.py).
                if token := await self._token_fetched_elsewhere(unlike=before):
                    return token
                log.warning("wecom.token_fetch_claim_waited_out", corp_id=self.corp_id)
            elif (token := await self._cached_token()) and token != before:
                # Another process stored its token between our read and our claim: use it.
                await self._cache.release_fetch()
                return token
            try:
                return await self._fetch_token()
            except BaseException:
                await self._cache.release_fetch()
                raise

    async def _fetch_token(self) -> str:
        data = await self._retrying(
            WeComRequest(
                "gettoken",
                method="GET",
                params={"corpid": self.corp_id, "corpsecret": self._secret},
                authed=False,
            ),
            retry=True,
        )
        token = str(data.get("access_token") or "")
        if not token:
            raise WeComTransportError(endpoint="gettoken", reason="answer without access_token")
        expires_at = self._clock.now() + timedelta(seconds=int(data.get("expires_in") or 7200))
        await self._cache.put(token, expires_at)
        log.info("wecom.token_fetched", corp_id=self.corp_id, expires_at=expires_at.isoformat())
        return token

    async def _token_fetched_elsewhere(self, *, unlike: str | None) -> str | None:
        """Wait (real time) for the claiming process to store a fresh token other than `unlike`;
        None when its claim would have run out."""
        for _ in range(int(FETCH_CLAIM_S / FETCH_POLL_S)):
            await asyncio.sleep(FETCH_POLL_S)
            token = await self._cached_token()
            if token and token != unlike:
                return token
        return None

    async def _cached_token(self) -> str | None:
        cached = await self._cache.get()
        if cached is None:
            return None
        token, expires_at = cached
        return token if self._clock.now() < expires_at - TOKEN_MARGIN else None

    # ---- transport ----

    async def _once(self, req: WeComRequest, token: str | None) -> Any:
        """One HTTP exchange, counted for /metrics by endpoint and errcode with its duration."""
        started = time.perf_counter()
        try:
            result = await self._exchange(req, token)
        except WeComError as exc:
            metrics.wecom_call(req.endpoint, exc.errcode, time.perf_counter() - started)
            raise
        except WeComTransportError:
            metrics.wecom_call(req.endpoint, "transport", time.perf_counter() - started)
            raise
        metrics.wecom_call(req.endpoint, 0, time.perf_counter() - started)
        return result

    async def _exchange(self, req: WeComRequest, token: str | None) -> Any:
        """One HTTP exchange: the JSON object (or MediaFile), or WeComError / WeComTransportError."""
        params = dict(req.params)
        if token is not None:
            params["access_token"] = token
        try:
            resp = await self._http.request(
                req.method,
                f"{self._base}/cgi-bin/{req.endpoint}",
                params=params,
                json=req.json,
                content=req.content,
                headers=req.headers,
            )
        except HttpClientError as exc:
            raise WeComTransportError(endpoint=req.endpoint, reason=str(exc)) from exc
        if resp.status != 200:
            raise WeComTransportError(endpoint=req.endpoint, reason=f"HTTP {resp.status}")
        if req.binary and not resp.content_type.startswith(("application/json", "text/plain")):
            return _media_file(resp)
        try:
            data = orjson.loads(resp.body)  # a fifth of json.loads' CPU; WeCom answers UTF-8
        except ValueError as exc:
            if req.binary:
                return _media_file(resp)
            raise WeComTransportError(endpoint=req.endpoint, reason="answer is not JSON") from exc
        if not isinstance(data, dict):
            if req.binary:
                return _media_file(resp)
            raise WeComTransportError(endpoint=req.endpoint, reason="answer is not a JSON object")
        try:
            errcode = int(data.get("errcode") or 0)
        except (TypeError, ValueError) as exc:
            raise WeComTransportError(endpoint=req.endpoint, reason="errcode is not a number") from exc
        if errcode != 0:
            raise WeComError(errcode=errcode, errmsg=str(data.get("errmsg") or ""), endpoint=req.endpoint)
        return _media_file(resp) if req.binary else data

    async def _authed(self, req: WeComRequest) -> Any:
        """One exchange with a token; a rejected token is refetched once and the call retried once."""
        if not req.authed:
            return await self._once(req, None)
        token = await self.get_token()
        try:
            return await self._once(req, token)
        except WeComError as exc:
            if not exc.is_token_error:
                raise
            log.info("wecom.token_rejected", endpoint=req.endpoint, errcode=exc.errcode)
        await self._cache.invalidate(token)
        return await self._once(req, await self.get_token())

    async def _retrying(self, req: WeComRequest, *, retry: bool) -> Any:
        """`_authed`, retrying errcode -1 and transport errors of this endpoint when `retry`."""
        for attempt in range(MAX_RETRIES + 1):
            try:
                return await self._authed(req)
            except (WeComError, WeComTransportError) as exc:
                # An error of gettoken inside this call was already retried there.
                busy = isinstance(exc, WeComTransportError) or exc.errcode == SYSTEM_BUSY
                if not retry or not busy or exc.endpoint != req.endpoint or attempt == MAX_RETRIES:
                    raise
                reason = str(exc)
            await self._backoff(req.endpoint, attempt, reason)
        raise AssertionError("unreachable")

    async def _backoff(self, endpoint: str, attempt: int, reason: str) -> None:
        delay = self._retry_base_s * 2**attempt
        log.info("wecom.retry", endpoint=endpoint, attempt=attempt + 1, delay_s=delay, reason=reason)
        await self._sleep(delay)

    async def _read(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._retrying(WeComRequest(endpoint, json=body), retry=True)  # type: ignore[no-any-return]

    async def _write_once(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._authed(WeComRequest(endpoint, json=body))  # type: ignore[no-any-return]


def _media_file(resp: HttpAnswer) -> MediaFile:
    header = email.message.Message()
    header["content-disposition"] = resp.content_disposition
    return MediaFile(
        content=resp.body,
        content_type=resp.content_type or "application/octet-stream",
        filename=header.get_filename(),
    )
