"""The simulator's parts wired together: world, faults, callback dispatcher, clock."""

from __future__ import annotations

from kefu.clock import Clock
from kefu.simulator.callbacks import CallbackDispatcher
from kefu.simulator.faults import Faults
from kefu.simulator.state import Settings, World


class Simulator:
    def __init__(self, clock: Clock, *, callback_timeout_s: float = 5.0) -> None:
        self.clock = clock
        self.world = World(clock)
        self.world.settings = Settings(callback_timeout_s=callback_timeout_s)
        self.faults = Faults()
        self.dispatcher = CallbackDispatcher(self.world, self.faults)
        self.world.notifier = self.dispatcher.submit
        self._default_timeout = callback_timeout_s

    def reset(self) -> None:
        """Forget everything (corps, messages, faults, deliveries); settings back to defaults."""
        self.dispatcher.wait_idle(timeout_s=30)
        with self.world.lock:
            self.world.clear()
            self.world.settings = Settings(callback_timeout_s=self._default_timeout)
            self.faults.clear(seed=0)
            self.dispatcher.clear()
            self.world.touch()

    def close(self) -> None:
        self.dispatcher.close()
