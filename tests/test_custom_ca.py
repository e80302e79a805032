"""A company that inspects TLS with its own CA names it in SSL_CERT_FILE or SSL_CERT_DIR: every
outgoing client trusts it then — WeCom's (aiohttp), the webhook's and the LLM's (httpx) — and
only certifi's CAs otherwise. Against a real TLS server on loopback whose certificate a CA made
here signed."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from kefu.ai.llm import LLMUnavailable, check_endpoint
from kefu.ai.settings import OpenAISettings
from kefu.clock import Clock
from kefu.crm.webhooks import WebhookRefused, deliver
from kefu.db import Database
from kefu.http_client import HttpClient, HttpClientError
from kefu.runtime import Runtime
from kefu.settings import Settings

# What the server answers every request: a chat completion, which the other clients take too.
ANSWER = json.dumps(
    {"choices": [{"index": 0, "message": {"role": "assistant", "content": "好"}}], "usage": {}}
).encode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # the inspecting CA, as SSL_CERT_FILE names it
    ca_dir: Path  # the same CA in a hashed folder, as SSL_CERT_DIR names it
    other_ca_file: Path  # a CA that signed nothing here
    server: ssl.SSLContext  # the server's certificate for 127.0.0.1, signed by the CA


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca = _ca("Inspecting Proxy CA")
    _, other = _ca("Unrelated CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(_pem(folder / "server.pem", leaf), key_file)
    ca_file = _pem(folder / "ca.pem", ca)
    # A CA folder is found by the subject's hash (what `openssl rehash` names the files).
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(ca_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (folder / "cas").mkdir()
    _pem(folder / "cas" / f"{subject_hash}.0", ca)
    return Pki(ca_file, folder / "cas", _pem(folder / "other.pem", other), server)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next(
            (
                int(line.split(":")[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
            + ANSWER
        )
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass  # a client that refused the certificate hung up
    finally:
        writer.close()


@pytest.fixture
async def tls_url(pki: Pki) -> AsyncIterator[str]:
    """An HTTPS server on loopback answering ANSWER, with the certificate the CA signed."""
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=pki.server)
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture(autouse=True)
def no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test names the CAs itself; no proxy stands between the client and the server."""
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    yield


async def _wecom_call(url: str) -> bytes:
    async with HttpClient(timeout_s=5.0) as client:
        return (await client.request("GET", f"{url}/cgi-bin/gettoken", params={"corpid": "ww1"})).body


async def test_the_wecom_client_trusts_the_ca_the_environment_names_else_certifis_only(
    pki: Pki, tls_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HttpClientError, match="certificate verify failed"):
        await _wecom_call(tls_url)

    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    assert await _wecom_call(tls_url) == ANSWER

    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", str(pki.ca_dir))
    assert await _wecom_call(tls_url) == ANSWER

    # Both set: the file is the one read, as httpx reads it (the other clients agree).
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca_file))
    with pytest.raises(HttpClientError, match="certificate verify failed"):
        await _wecom_call(tls_url)


async def test_the_environment_is_read_once_per_client(
    pki: Pki, tls_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    async with HttpClient(timeout_s=5.0) as client:
        assert (await client.request("GET", f"{tls_url}/cgi-bin/gettoken", params={})).body == ANSWER
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca_file))
        await client.close()  # a new session (another loop, say) keeps the CAs read first
        assert (await client.request("GET", f"{tls_url}/cgi-bin/gettoken", params={})).body == ANSWER


async def test_a_ca_file_that_cannot_be_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    with pytest.raises(HttpClientError, match=re.escape(f"SSL_CERT_FILE={missing}")):
        await _wecom_call("https://127.0.0.1:9")


async def test_the_webhook_trusts_the_same_cas(
    pki: Pki, tls_url: str, settings: Settings, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked = settings.model_copy(
        update={"webhook_url": f"{tls_url}/kefu-events", "webhook_secret": SecretStr("s")}
    )

    async def delivered(ca_variable: str | None, value: Path | None = None) -> None:
        if ca_variable and value:
            monkeypatch.setenv(ca_variable, str(value))
        rt = Runtime.build(hooked, clock=clock, db=db)  # as `kefu serve` and `kefu worker` build it
        try:
            await deliver(rt, event="crm.binding.bound", event_id="d-1", body="{}")
        finally:
            await rt.http.aclose()
            await rt.wecom_http.close()
        if ca_variable:
            monkeypatch.delenv(ca_variable)

    with pytest.raises(WebhookRefused, match="certificate verify failed"):
        await delivered(None)
    await delivered("SSL_CERT_FILE", pki.ca_file)
    await delivered("SSL_CERT_DIR", pki.ca_dir)


async def test_the_llm_trusts_the_same_cas(
    pki: Pki, tls_url: str, settings: Settings, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = OpenAISettings(base_url=f"{tls_url}/v1", model="qwen-test", timeout_s=5)

    async def checked() -> float:
        rt = Runtime.build(settings, clock=clock, db=db)  # its client reads the CAs: the LLM's too
        try:
            return await check_endpoint(endpoint, rt.http)
        finally:
            await rt.http.aclose()
            await rt.wecom_http.close()

    with pytest.raises(LLMUnavailable, match="ConnectError"):
        await checked()
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    assert isinstance(await checked(), float)  # answered
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", str(pki.ca_dir))
    assert isinstance(await checked(), float)  # answered
