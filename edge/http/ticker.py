"""What drives the server's tick (the Date header, the timeouts): a strategy, so tests step it.

In a running edge the tick comes just after each second of the wall clock begins, so the
Date header (one-second resolution, RFC 9110 5.6.7) turns with the second. A test passes a
ticker it calls by hand, next to a fake clock, and waits for nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from classcast.clock import Clock

Tick = Callable[[], None]


class Ticker(Protocol):
    def start(self, tick: Tick) -> None: ...

    def stop(self) -> None: ...


class SecondTicker:
    """Calls `tick` once a second, on the second of `wall`, on the running loop."""

    def __init__(self, wall: Clock = time.time) -> None:
        self.wall = wall
        self._tick: Tick | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self, tick: Tick) -> None:
        if self._tick is None:
            self._tick = tick
            self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._tick = self._handle = None

    def _run(self) -> None:
        if self._tick is not None:
            self._tick()
            self._schedule()

    def _schedule(self) -> None:
        delay = 1.0 - self.wall() % 1.0 + 0.001
        self._handle = asyncio.get_running_loop().call_later(delay, self._run)
