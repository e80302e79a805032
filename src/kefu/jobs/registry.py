"""Tasks: named async functions a job runs, with their retry and lease policy.

A task takes the Runtime and the job's JSON arguments (IDs, never objects),
opens its own sessions and skips work already done:

    @task("ingest.sync", max_attempts=8)
    async def sync(rt: Runtime, *, kf_account_id: int) -> None: ...

Task modules follow the package convention `kefu/<feature>/tasks.py`; `kefu.registry`, above
every feature, imports them all so that a process knows every task.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kefu.runtime import Runtime

TaskFn = Callable[..., Awaitable[None]]

# How long a job stays leased without a heartbeat. The worker renews it every lease/3 while the
# job runs, so it bounds only how long a killed process's jobs wait before another worker takes
# them: at 300 s a `kill -9` held a conversation (and its account's pulls) for minutes, which the
# chaos run (benchmarks/chaos.py) showed as a backlog that did not drain.
LEASE_S = 30.0


class JobFailed(Exception):
    """Raise from a task to fail the job now, without further retries; the message is recorded."""


class RetryLater(Exception):
    """Raise from a task to run it again after `after_s`, without counting an error attempt."""

    def __init__(self, after_s: float, reason: str) -> None:
        super().__init__(reason)
        self.after_s = after_s
        self.reason = reason


class UnknownTask(LookupError):
    """No task of that name is registered in this process."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: TaskFn
    max_attempts: int = 10
    lease_s: float = LEASE_S
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 600.0


_TASKS: dict[str, TaskSpec] = {}


def task(
    name: str,
    *,
    max_attempts: int = 10,
    lease_s: float = LEASE_S,
    backoff_base_s: float = 1.0,
    backoff_cap_s: float = 600.0,
) -> Callable[[TaskFn], TaskFn]:
    """Register an async function as the task `name`."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if lease_s <= 0:
        raise ValueError("lease_s must be positive")

    def register(fn: TaskFn) -> TaskFn:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"task {name!r} must be an async function")
        existing = _TASKS.get(name)
        if existing is not None and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(f"task name {name!r} is already taken by {_qualified(existing.fn)}")
        _TASKS[name] = TaskSpec(name, fn, max_attempts, lease_s, backoff_base_s, backoff_cap_s)
        task_leases.cache_clear()
        return fn

    return register


def get_task(name: str) -> TaskSpec:
    """The task registered as `name`."""
    spec = _TASKS.get(name)
    if spec is None:
        raise UnknownTask(f"no task named {name!r} is registered (is kefu.registry imported?)")
    return spec


def registered_tasks() -> list[str]:
    """The names of the tasks registered in this process."""
    return sorted(_TASKS)


@functools.cache  # every claim asks; cleared when a task is registered
def task_leases() -> tuple[tuple[str, float], ...]:
    """(name, lease_s) of every registered task, in name order: what a claim leases them for."""
    return tuple((name, _TASKS[name].lease_s) for name in sorted(_TASKS))


def check_arguments(spec: TaskSpec, rt: Runtime, args: dict[str, Any]) -> None:
    """Raise TypeError when `args` do not fit the task's signature (a bug, not worth retrying)."""
    _signature(spec.fn).bind(rt, **args)


@functools.cache
def _signature(fn: TaskFn) -> inspect.Signature:
    # Read once per task: inspect.signature costs more than a job's claim (every job runs this).
    return inspect.signature(fn)


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
