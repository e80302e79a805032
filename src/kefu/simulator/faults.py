"""Fault injection, per endpoint: errcodes (next N calls or a rate), added latency,
dropping the connection after processing, empty sync_msg pages, and callback
delivery failures. Rates use a seeded RNG so a run can be repeated.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from kefu.simulator.errors import ControlError

CALLBACK = "callback"


@dataclass
class FaultRule:
    id: int
    endpoint: str  # "kf/send_msg", "gettoken", "media/upload", "*" (every API), or "callback"
    errcodes: list[int] = field(default_factory=list)  # answered in turn instead of processing
    count: int | None = None  # the next N matching calls; None = until removed
    rate: float = 1.0  # chance that a matching call is hit
    latency_ms: int = 0
    drop_response: bool = False  # process the call, then close the connection unanswered
    empty_page: bool = False  # sync_msg: an empty msg_list with has_more 1 (when items are waiting)
    callback: str = ""  # for endpoint "callback": "fail" (ack ignored → re-send) or "drop" (not sent)
    invalidate_tokens: bool = False  # every current access token answers 42001 from this call on
    every: int | None = None  # fire only on every N-th matching call (N, 2N, …)
    hits: int = 0
    seen: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Decision:
    errcode: int | None = None
    latency_s: float = 0.0
    drop_response: bool = False
    invalidate_tokens: bool = False


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self._rng = random.Random(seed)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        endpoint = str(spec.get("endpoint") or "").strip("/")
        if endpoint.startswith("cgi-bin/"):
            endpoint = endpoint[len("cgi-bin/") :]
        if not endpoint:
            raise ControlError(422, 'endpoint is required, e.g. "kf/send_msg", "*" or "callback"')
        if endpoint == CALLBACK and spec.get("callback") not in ("fail", "drop"):
            raise ControlError(422, 'callback faults need "callback": "fail" or "drop"')
        count = spec.get("count")
        rate = float(spec.get("rate", 1.0))
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ControlError(422, "count must be a positive integer")
        if not 0.0 <= rate <= 1.0:
            raise ControlError(422, "rate must be between 0 and 1")
        every = spec.get("every")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ControlError(422, "every must be a positive integer")
        with self._lock:
            rule = FaultRule(
                id=self._next_id,
                endpoint=endpoint,
                errcodes=[
                    int(c) for c in spec.get("errcodes") or ([spec["errcode"]] if "errcode" in spec else [])
                ],
                count=count,
                rate=rate,
                latency_ms=int(spec.get("latency_ms", 0)),
                drop_response=bool(spec.get("drop_response", False)),
                empty_page=bool(spec.get("empty_page", False)),
                callback=str(spec.get("callback") or ""),
                invalidate_tokens=bool(spec.get("invalidate_tokens", False)),
                every=every,
            )
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self, seed: int | None = None) -> None:
        with self._lock:
            self._rules.clear()
            if seed is not None:
                self._rng.seed(seed)

    def _hit(self, endpoint: str, accept: Any) -> list[FaultRule]:
        """Matching rules that fire for this call; each firing uses up one of its `count`."""
        fired = []
        with self._lock:
            for rule in list(self._rules):
                if rule.endpoint not in (endpoint, "*") or (rule.endpoint == "*" and endpoint == CALLBACK):
                    continue
                if not accept(rule):
                    continue
                rule.seen += 1
                if rule.every is not None and rule.seen % rule.every:
                    continue
                if self._rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                fired.append(rule)
                if rule.count is not None and rule.hits >= rule.count:
                    self._rules.remove(rule)
        return fired

    def decide(self, endpoint: str) -> Decision:
        """What to do to one API call (errcode, latency, dropped response)."""
        decision = Decision()
        for rule in self._hit(endpoint, lambda r: not r.empty_page):
            decision.latency_s += rule.latency_ms / 1000
            decision.drop_response |= rule.drop_response
            decision.invalidate_tokens |= rule.invalidate_tokens
            if rule.errcodes and decision.errcode is None:
                decision.errcode = rule.errcodes[(rule.hits - 1) % len(rule.errcodes)]
        return decision

    def empty_page(self) -> bool:
        """sync_msg asks this only when items are waiting (so has_more: 1 is true)."""
        return bool(self._hit("kf/sync_msg", lambda r: r.empty_page))

    def callback_fault(self, mode: str) -> bool:
        """True if a callback rule of this mode ("fail" per attempt, "drop" per callback) fires."""
        return bool(self._hit(CALLBACK, lambda r: r.callback == mode))
