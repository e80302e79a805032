"""Encrypted callback delivery (wecom-kf-api.md §2): URL verification and event POSTs.

Each callback is encrypted and signed once (WXBizMsgCrypt via `CallbackCrypto`)
and POSTed from a worker thread. No HTTP 200 within `callback_timeout_s`, or a
non-200, → the same request is sent again, up to `callback_retries` more times
(§2.6: 1 + 3). A re-send carries the same Token: it never creates new data.
"""

from __future__ import annotations

import secrets
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import httpx

from kefu.simulator.faults import Faults
from kefu.simulator.state import Corp, World
from kefu.wecom.crypto import CallbackCrypto


@dataclass
class Attempt:
    at: float  # the simulator clock when it was sent
    outcome: str  # "HTTP 200", "HTTP 500", "timeout", "error: ...", with a fault note


@dataclass
class Delivery:
    id: int
    corpid: str
    open_kfid: str | None
    url: str
    plaintext: str
    status: str = "pending"  # pending | delivered | failed | dropped
    attempts: list[Attempt] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def envelope(corp: Corp, encrypt: str) -> str:
    """The outer XML of §2.3; AgentID is included when the corp has one (it is UNCONFIRMED)."""
    agent = f"<AgentID><![CDATA[{corp.agent_id}]]></AgentID>" if corp.agent_id else ""
    return (
        f"<xml><ToUserName><![CDATA[{corp.corpid}]]></ToUserName>{agent}"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )


def seal(
    corp: Corp, plaintext: str, *, timestamp: str, nonce: str, random16: bytes | None = None
) -> tuple[dict[str, str], str]:
    """Encrypt and sign one callback (§2.3, §2.4): (query parameters, XML body)."""
    crypto = CallbackCrypto(corp.callback_token, corp.encoding_aes_key, corp.corpid)
    encrypt = crypto.encrypt(plaintext, random16=random16)
    params = {"msg_signature": crypto.sign(timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}
    return params, envelope(corp, encrypt)


@lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """Building an SSL context costs ~0.1 s; one per process keeps starting simulators cheap."""
    return httpx.create_ssl_context()


def _nonce() -> str:
    return str(secrets.randbelow(10**10))


class CallbackDispatcher:
    def __init__(self, world: World, faults: Faults, *, workers: int = 4) -> None:
        self._world = world
        self._faults = faults
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-callback")
        self._client = httpx.Client(trust_env=False, verify=shared_ssl_context())
        self._idle = threading.Condition()
        self._pending = 0
        self._next_id = 1
        self.deliveries: list[Delivery] = []

    def submit(self, corp: Corp, open_kfid: str | None, plaintext: str) -> None:
        """Called with the world lock held: snapshot config, encrypt, queue the POST."""
        url = corp.callback_url or ""
        params, body = seal(corp, plaintext, timestamp=str(self._world.now()), nonce=_nonce())
        with self._idle:
            delivery = Delivery(self._next_id, corp.corpid, open_kfid, url, plaintext)
            self._next_id += 1
            self.deliveries.append(delivery)
            if self._faults.callback_fault("drop"):
                delivery.status = "dropped"
                return
            self._pending += 1
        self._executor.submit(self._deliver, delivery, params, body)

    def _deliver(self, delivery: Delivery, params: dict[str, str], body: str) -> None:
        try:
            settings = self._world.settings
            for _ in range(1 + settings.callback_retries):
                ok, outcome = self._post(delivery.url, params, body, settings.callback_timeout_s)
                if ok and self._faults.callback_fault("fail"):
                    ok, outcome = False, outcome + " (treated as failed by fault injection)"
                with self._idle:
                    delivery.attempts.append(Attempt(self._world.clock.timestamp(), outcome))
                    if ok:
                        delivery.status = "delivered"
                        return
            with self._idle:
                delivery.status = "failed"
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
            self._world.touch()

    def _post(self, url: str, params: dict[str, str], body: str, timeout: float) -> tuple[bool, str]:
        try:
            response = self._client.post(
                url,
                params=params,
                content=body.encode(),
                headers={"Content-Type": "text/xml"},
                timeout=timeout,
            )
        except httpx.TimeoutException:
            return False, "timeout"
        except httpx.HTTPError as exc:
            return False, f"error: {type(exc).__name__}"
        return response.status_code == 200, f"HTTP {response.status_code}"

    def verify_url(self, corp: Corp, url: str) -> tuple[bool, str]:
        """§2.2: GET with an encrypted echostr; the receiver must answer its plaintext with 200."""
        crypto = CallbackCrypto(corp.callback_token, corp.encoding_aes_key, corp.corpid)
        plain = str(secrets.randbelow(10**18))
        echostr = crypto.encrypt(plain)
        timestamp, nonce = str(self._world.now()), _nonce()
        params = {
            "msg_signature": crypto.sign(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        try:
            response = self._client.get(url, params=params, timeout=self._world.settings.verify_timeout_s)
        except httpx.HTTPError as exc:
            return False, f"verification request failed: {type(exc).__name__}"
        if response.status_code != 200:
            return False, f"verification answered HTTP {response.status_code}"
        if response.text != plain:
            return False, "verification answer is not the decrypted echostr (no quotes, BOM or newline)"
        return True, "ok"

    def wait_idle(self, timeout_s: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def snapshot(self, corpid: str | None = None) -> list[dict[str, Any]]:
        with self._idle:
            return [d.as_dict() for d in self.deliveries if corpid is None or d.corpid == corpid]

    def clear(self) -> None:
        with self._idle:
            self.deliveries = []

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()
