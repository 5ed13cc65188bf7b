"""Is the generator itself the bottleneck? Event-loop lag and CPU of this process.

A load generator that is short of CPU delays its own timers: viewers reload late, segments
look slow and stalls appear that the server never caused. Such a run is marked generator-bound.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from classcast.clock import Clock
from loadtest.histogram import Histogram

PROBE_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class Limits:
    loop_lag_p99_s: float = 0.1
    cpu_cores: float = 0.9  # of one core: past this the loop has no slack left


def is_generator_bound(lag_p99_s: float, cpu_cores: float, limits: Limits) -> bool:
    return lag_p99_s > limits.loop_lag_p99_s or cpu_cores > limits.cpu_cores


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CpuMeter:
    """CPU time over wall time since the last reading: 1.0 means one core fully busy."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.started_wall = self._last_wall = clock()
        self.started_cpu = self._last_cpu = cpu_seconds()

    def interval(self) -> float:
        wall, cpu = self.clock(), cpu_seconds()
        busy = (cpu - self._last_cpu) / max(wall - self._last_wall, 1e-9)
        self._last_wall, self._last_cpu = wall, cpu
        return busy

    def overall(self) -> float:
        return (cpu_seconds() - self.started_cpu) / max(self.clock() - self.started_wall, 1e-9)


class LoopLagProbe:
    """Sleeps a fixed interval and records how late it wakes up."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lag = Histogram()
        self.recent = Histogram()

    async def run(self) -> None:
        while True:
            before = self.clock()
            await asyncio.sleep(PROBE_INTERVAL_S)
            late = max(0.0, self.clock() - before - PROBE_INTERVAL_S)
            self.lag.record(late)
            self.recent.record(late)

    def take_recent(self) -> Histogram:
        recent, self.recent = self.recent, Histogram()
        return recent
