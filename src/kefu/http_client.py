"""The HTTP client for WeCom's API: aiohttp, one session per event loop.

Every answered customer message costs Kefu one or two WeCom calls (sync_msg, send_msg). httpx
spent about 1.6 ms of CPU on each (its request building, anyio streams and h11), aiohttp about
0.2 ms on the same loopback exchange (benchmarks/http_clients.py): httpx was the largest single
item of the hot path's profile. httpx stays for the rarer calls (the LLM, the webhook).

A session belongs to the event loop it was made in, and must be made inside one: it is made on
first use in the running loop and made again if a later call runs in another loop (a CLI
command, a test). Like httpx's defaults (the LLM's and the webhook's client), so that every
outgoing call goes the same way: a proxy from the environment (HTTPS_PROXY, NO_PROXY …), and the
CAs it trusts from SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle — a company that
inspects TLS with its own CA names it there.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi


class HttpClientError(Exception):
    """No answer: the connection failed, broke, or timed out, or the CAs SSL_CERT_FILE or
    SSL_CERT_DIR name could not be read (the text names aiohttp's error or the variable)."""


def _trusted_cas() -> ssl.SSLContext:
    """The CAs outgoing TLS trusts, chosen as httpx chooses them (trust_env): the file
    SSL_CERT_FILE names, else the hashed folder SSL_CERT_DIR names, else certifi's bundle.
    A variable naming what cannot be read is an error that names it."""
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = None if cafile else os.environ.get("SSL_CERT_DIR")
    if not (cafile or capath):
        return ssl.create_default_context(cafile=certifi.where())
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        variable = "SSL_CERT_FILE" if cafile else "SSL_CERT_DIR"
        raise HttpClientError(f"{variable}={cafile or capath}: {exc}") from exc


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str
    content_disposition: str
    body: bytes


class HttpClient:
    def __init__(self, *, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: ssl.SSLContext | None = None  # read from the environment once, at first use
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            if self._ssl is None:
                self._ssl = _trusted_cas()
            session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(ssl=self._ssl)
            )
            self._session, self._loop = session, loop
        return session

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str],
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        try:
            async with self._current().request(
                method, url, params=params, json=json, data=content, headers=headers, proxy=self._proxy(url)
            ) as resp:
                return HttpAnswer(
                    status=resp.status,
                    content_type=resp.headers.get("content-type", ""),
                    content_disposition=resp.headers.get("content-disposition", ""),
                    body=await resp.read(),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise HttpClientError(f"{type(exc).__name__}: {exc}") from exc

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for this URL's scheme and host (HTTPS_PROXY, NO_PROXY …), read
        once per host: aiohttp's own `trust_env` reads the environment again on every request,
        which cost 0.5 ms a call."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = urllib.request.proxy_bypass_environment(key[1], proxies)  # type: ignore[attr-defined]
            self._proxies[key] = None if bypass else proxies.get(key[0])
        return self._proxies[key]

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if it belongs to the running loop (another loop's is gone with it)."""
        session, loop, self._session, self._loop = self._session, self._loop, None, None
        if session is not None and not session.closed and loop is asyncio.get_running_loop():
            await session.close()
