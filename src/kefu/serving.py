"""How Kefu's HTTP servers meet the network: loopback by default, limits for slow clients.

uvicorn has no timeout for reading a request's headers or body: a client that sends half a
request holds its connection until it gives up. The reverse proxy in front of `kefu serve`
(docs/nginx.conf.example) provides those timeouts and the body size limit; the limits here
bound what reaches uvicorn, and what a directly exposed server suffers.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

from kefu.threaded_server import is_loopback

# Connections plus in-flight requests served at once; past it uvicorn answers 503 at once
# (WeCom re-sends a callback that got 503) instead of slowing every client down.
LIMIT_CONCURRENCY = 1000
# Seconds an idle keep-alive connection stays open between requests.
TIMEOUT_KEEP_ALIVE = 5
# Seconds a stop waits for requests still running: the console's event streams never finish
# by themselves (they end after 45 s), so without a bound a stop would wait for them.
GRACEFUL_SHUTDOWN_S = 10
# h11 refuses a request whose header section (an "incomplete event") exceeds this.
MAX_HEADER_BYTES = 16 * 1024

HttpParser = Literal["auto", "h11", "httptools"]


def http_parser(choice: HttpParser, host: str) -> Literal["h11", "httptools"]:
    """`auto`: httptools (faster) on loopback, where the proxy in front bounds request headers;
    h11 anywhere else, because httptools accepts header sections of any size (megabytes) and
    h11 stops at MAX_HEADER_BYTES."""
    if choice != "auto":
        return choice
    return "httptools" if is_loopback(host) else "h11"


def uvicorn_limits(
    *,
    host: str,
    http: HttpParser = "auto",
    limit_concurrency: int = LIMIT_CONCURRENCY,
    timeout_keep_alive: int = TIMEOUT_KEEP_ALIVE,
) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`."""
    return {
        "http": http_parser(http, host),
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive": timeout_keep_alive,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def cannot_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (e.g. "Address already in use"), or None. Asked
    before a start's slower work (schema, the AI's dictionary), so that the answer is one line
    at once rather than uvicorn's error after a "listening" log line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind(infos[0][4])
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
