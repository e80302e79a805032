"""The load of benchmarks/e2e.py and what it observes, in the benchmark's own process (which hosts
the simulator): customers write at a set rate; the simulator stamps each reply's arrival (the
customer's oldest unanswered message is the one it answers) and each callback's acknowledgement."""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kefu.simulator import SimulatorServer, people
from kefu.simulator.state import Account, Customer

# The demo knowledge base's questions, as customers put them (and a greeting).
QUESTIONS = [
    "如何申请退货",
    "退货运费谁承担",
    "退款多久到账",
    "怎么换新的",
    "多久能发货",
    "可以开发票吗",
    "你好",
]


class _Stamped(list[Any]):
    """The simulator's `received` list, calling back on every append (under the world lock)."""

    def __init__(self, items: list[Any], on_append: Callable[[Any], None]) -> None:
        super().__init__(items)
        self.on_append = on_append

    def append(self, item: Any) -> None:
        self.on_append(item)
        super().append(item)


class Stamps:
    """Send and reply times on the simulator (perf_counter seconds)."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.world = sim.state
        self.pending: defaultdict[str, deque[float]] = defaultdict(deque)
        self.latencies: list[tuple[float, float]] = []  # (sent at, seconds to the reply)
        self.sent: Counter[str] = Counter()
        self.replies: Counter[str] = Counter()
        self.unasked = 0  # replies with no message waiting for one: an answer sent twice
        self.acks: list[tuple[float, float]] = []  # (callback sent at, seconds to its HTTP answer)
        with self.world.lock:
            self.world.received = _Stamped(self.world.received, self._on_reply)
        dispatcher = self.dispatcher = sim.simulator.dispatcher
        post = dispatcher._post

        def timed_post(*args: Any) -> tuple[bool, str]:
            started = time.perf_counter()
            try:
                return post(*args)
            finally:
                self.acks.append((started, time.perf_counter() - started))

        dispatcher._post = timed_post  # type: ignore[method-assign]

    def _on_reply(self, received: Any) -> None:
        if received.source != "send_msg":
            return
        now = time.perf_counter()
        self.replies[received.external_userid] += 1
        waiting = self.pending[received.external_userid]
        if waiting:
            sent_at = waiting.popleft()
            self.latencies.append((sent_at, now - sent_at))
        else:
            self.unasked += 1

    def send(self, account: Account, customer: Customer, content: str) -> None:
        """The customer writes (what POST /_sim/api/customers/…/messages does, without HTTP)."""
        with self.world.lock:
            self.pending[customer.external_userid].append(time.perf_counter())
            self.sent[customer.external_userid] += 1
            people.customer_message(self.world, account, customer, "text", {"content": content})

    def outstanding(self) -> int:
        with self.world.lock:
            return sum(len(q) for q in self.pending.values())

    def wait_answered(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.outstanding():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def exactly_once(self, held_back: Mapping[str, int]) -> dict[str, Any]:
        """Messages not answered (and not refused by WeCom: its quota of 5 sends per customer
        message, 95001, refuses the 6th answer to a customer the target fell behind on; nor held
        back by the target for that quota, `held_back` by customer), and customers with more
        replies than messages answered."""
        with self.world.lock:
            quota = Counter(
                s.touser for s in self.world.sends if s.endpoint == "kf/send_msg" and s.errcode == 95001
            )
            asked = {c: n - held_back.get(c, 0) for c, n in self.sent.items()}  # to be answered
            missing = sum(max(0, n - self.replies[c] - quota[c]) for c, n in asked.items())
            more = sum(1 for c, n in asked.items() if self.replies[c] > n) + self.unasked
            refused = Counter(s.errcode for s in self.world.sends if s.errcode)
            undelivered = Counter(s.fail_type for s in self.world.sends if not s.errcode and not s.delivered)
            callbacks = Counter(d.status for d in self.dispatcher.deliveries)
        return {
            "unanswered": missing,
            "held_back": sum(held_back.values()),
            "customers_extra_replies": more,
            "refused_calls": {str(k): n for k, n in refused.items()},
            "sends_not_delivered": {str(k): n for k, n in undelivered.items()},
            "callbacks": dict(callbacks),
        }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Step:
    rate: float  # offered, customer messages per second
    seconds: float
    sent: int = 0
    answered: int = 0
    backlog: list[int] = field(default_factory=list)  # unanswered, sampled every 0.5 s
    latency_ms: dict[str, float] = field(default_factory=dict)
    ack_ms: dict[str, float] = field(default_factory=dict)
    drained: bool = False
    flat: bool = False
    cpu_s: float = 0.0  # Kefu's (or the bare loop's) processes, from the step's start to its drain
    load_cpu_s: float = 0.0  # this process: the simulator and the customers
    wall_s: float = 0.0
    rss_peak_mb: float = 0.0
    answered_per_s: float = 0.0  # replies that arrived while the step was writing, per second

    def passed(self, p99_target_ms: float) -> bool:
        return not self.why_not(p99_target_ms)

    def why_not(self, p99_target_ms: float) -> str:
        """Why the step did not hold ("" when it did)."""
        reasons = []
        if self.sent < 0.95 * self.rate * self.seconds:
            reasons.append(f"only {self.sent} offered")
        if not self.drained:
            reasons.append("not all answered in the drain time")
        if not self.flat:
            reasons.append("backlog grew")
        if not self.latency_ms.get("p99", float("inf")) <= p99_target_ms:
            reasons.append(f"p99 over {p99_target_ms:g} ms")
        return ", ".join(reasons)

    def summary(self) -> dict[str, Any]:
        per_1000 = self.cpu_s / self.answered * 1000 if self.answered else float("nan")
        return {
            "rate": self.rate,
            "sent": self.sent,
            "answered": self.answered,
            "answered_per_s": round(self.answered_per_s, 1),
            **{f"{k}_ms": round(v, 1) for k, v in self.latency_ms.items()},
            **{f"ack_{k}_ms": round(v, 1) for k, v in self.ack_ms.items()},
            "backlog_max": max(self.backlog, default=0),
            "drained": self.drained,
            "flat": self.flat,
            "cpu_s_per_1000_msgs": round(per_1000, 1),
            "load_cpu_share": round(self.load_cpu_s / self.wall_s, 2) if self.wall_s else None,
            "rss_peak_mb": round(self.rss_peak_mb, 1),
        }


def _spread(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": percentile(ms, 0.50), "p95": percentile(ms, 0.95), "p99": percentile(ms, 0.99)}


def run_step(
    stamps: Stamps,
    pairs: list[tuple[Account, Customer]],
    rate: float,
    seconds: float,
    *,
    cpu: Callable[[], float],
    load_cpu: Callable[[], float],
    rss: Callable[[], float],
    drain_s: float,
    rng: random.Random,
) -> Step:
    """Customers write `rate` messages a second for `seconds`, evenly, in turn (customer j % n);
    then wait up to `drain_s` for every answer."""
    step = Step(rate=rate, seconds=seconds)
    cpu0, load0, latencies0, acks0 = cpu(), load_cpu(), len(stamps.latencies), len(stamps.acks)
    started = time.perf_counter()
    total = int(rate * seconds)
    next_sample = started
    for j in range(total):
        due = started + j / rate
        while (now := time.perf_counter()) < due:
            if now >= next_sample:
                step.backlog.append(stamps.outstanding())
                step.rss_peak_mb = max(step.rss_peak_mb, rss())
                next_sample += 0.5
            time.sleep(min(due - now, 0.005))
        account, customer = pairs[j % len(pairs)]
        stamps.send(account, customer, f"{rng.choice(QUESTIONS)}")
        step.sent += 1
    step.drained = stamps.wait_answered(drain_s)
    step.rss_peak_mb = max(step.rss_peak_mb, rss())
    step.wall_s = time.perf_counter() - started
    step.cpu_s, step.load_cpu_s = cpu() - cpu0, load_cpu() - load0
    window_end = started + seconds
    arrived = [at + took for at, took in stamps.latencies[latencies0:]]
    step.answered_per_s = sum(1 for t in arrived if t < window_end) / seconds
    latencies = [seconds_ for _, seconds_ in stamps.latencies[latencies0:]]
    step.answered = len(latencies)
    step.latency_ms = _spread(latencies)
    step.ack_ms = _spread([seconds_ for _, seconds_ in stamps.acks[acks0:]])
    # Flat: the last quarter's backlog (median) is at most twice the second quarter's, give or
    # take half a second of messages; a backlog that grows, grows by the shortfall every second.
    quarter = max(1, len(step.backlog) // 4)
    early = statistics.median(step.backlog[quarter : 2 * quarter] or [0])
    late = statistics.median(step.backlog[-quarter:] or [0])
    step.flat = late <= 2 * early + 0.5 * rate + 2
    return step
