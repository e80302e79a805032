"""`kefu serve` as a process: its log level, and the limits that keep slow or abusive clients
from holding the server (keep-alive timeout, concurrency cap, header size cap)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kefu.serving import http_parser
from kefu.threaded_server import is_loopback

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[int, list[str]]]:
    """`kefu serve` on a fresh SQLite file; yields its port, and its stderr lines once stopped."""
    port = free_port()
    env = {
        **os.environ,
        "KEFU_ENV": "development",
        "KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'kefu.db'}",
        "KEFU_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "kefu serve did not start"
            time.sleep(0.1)  # real time: the server starts in another process
        yield port, output
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
        output.extend(out.splitlines())


def raw_request(port: int, body_sent: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if body_sent:
        head = b"POST /healthz HTTP/1.1\r\nHost: k\r\nContent-Length: 1000\r\n\r\n"
        sock.sendall(head + body_sent)  # half a body: the request stays open
    return sock


def test_limits_close_idle_connections_cap_concurrency_and_refuse_huge_headers(tmp_path: Path) -> None:
    with serving(tmp_path, "--limit-concurrency", "3", "--timeout-keep-alive", "1", "--http", "h11") as (
        port,
        _output,
    ):
        # An idle keep-alive connection is closed after --timeout-keep-alive.
        idle = raw_request(port)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n")
        started = time.monotonic()
        answer = b""
        while chunk := idle.recv(4096):  # the answer (headers and body may come apart), then EOF
            answer += chunk
        assert b"200 OK" in answer and answer.endswith(b"}")  # closed by the server after it
        assert time.monotonic() - started < 5
        idle.close()

        # Three clients holding half-sent bodies fill --limit-concurrency: the next request is
        # refused at once with 503 instead of waiting behind them.
        holders = [raw_request(port, b"x" * 10) for _ in range(3)]
        time.sleep(0.3)  # real time: let the server register them
        refused = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert refused.status_code == 503
        for sock in holders:
            sock.close()
        time.sleep(0.3)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

        # A header section still incomplete past 16 KiB is refused (h11's incomplete-event cap):
        # a client cannot make the server buffer headers without end.
        dribble = raw_request(port)
        dribble.sendall(b"GET /healthz HTTP/1.1\r\nHost: k\r\n")
        try:
            for i in range(100):
                dribble.sendall(b"X-Pad-%d: " % i + b"a" * 1000 + b"\r\n")
                time.sleep(0.01)  # real time: arrive in pieces, as a slow client's would
            refused = dribble.recv(4096)[:12] in (b"", b"HTTP/1.1 431", b"HTTP/1.1 400")
        except OSError:  # reset by the server
            refused = True
        assert refused
        dribble.close()


def test_log_level_option_overrides_the_setting_and_alembic_stays_quiet(tmp_path: Path) -> None:
    (tmp_path / "info").mkdir()
    (tmp_path / "warning").mkdir()
    with serving(tmp_path / "info") as (_port, info):  # KEFU_LOG_LEVEL=INFO, the default
        pass
    with serving(tmp_path / "warning", "--log-level", "warning") as (_port, warning):
        pass
    text_info, text_warning = "\n".join(info), "\n".join(warning)
    assert "db.upgraded" in text_info and "serve.listening" in text_info, text_info
    assert "Running upgrade" not in text_info and "setup plugin" not in text_info, text_info
    assert "serve.listening" not in text_warning and "db.upgraded" not in text_warning, text_warning


def test_a_bad_log_level_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "serve", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "DEBUG, INFO, WARNING, ERROR" in result.stderr


def test_serving_off_loopback_warns_and_uses_the_header_capped_parser() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("kefu.example.com")
    assert http_parser("auto", "127.0.0.1") == "httptools"  # behind the proxy: the fast parser
    assert http_parser("auto", "0.0.0.0") == "h11"  # exposed: headers capped at 16 KiB
    assert http_parser("httptools", "0.0.0.0") == "httptools"


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    from kefu import __version__

    assert result.returncode == 0 and result.stdout == f"kefu {__version__}\n"


ROOT = Path(__file__).resolve().parent.parent
NGINX_SAMPLE = ROOT / "docs" / "nginx.conf.example"


def test_the_documented_proxy_sets_the_timeouts_and_limits_uvicorn_lacks(tmp_path: Path) -> None:
    sample = NGINX_SAMPLE.read_text()
    for directive in (
        "client_header_timeout",
        "client_body_timeout",
        "client_max_body_size",
        "limit_req ",
        "limit_conn ",
        "proxy_pass http://kefu",
    ):
        assert directive in sample, directive
    assert "docs/nginx.conf.example" in (ROOT / "docs" / "operations.md").read_text()
    assert "kefu serve --host 127.0.0.1" in (ROOT / "README.md").read_text()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed: the sample's syntax is not checked")
    cert, key = self_signed(tmp_path)
    server = sample.replace("/etc/ssl/kefu/fullchain.pem", str(cert)).replace(
        "/etc/ssl/kefu/privkey.pem", str(key)
    )
    (tmp_path / "kefu.conf").write_text(server)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/kefu.conf; }}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-q", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate, so `nginx -t` can load the sample's TLS lines."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kefu.example.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
