"""The harness's viewers on a uvloop loop in a thread of their own, for hosts that are not
asyncio: a Locust worker adds and removes viewers as its users start and stop, while the viewers
themselves run exactly as under `python -m loadtest run` (same models, lean transport, recorder).

Nothing here imports Locust or gevent. The two threads share no mutable state: commands go in by
`call_soon_threadsafe`, statistics come out as serialised deltas on a deque (appends and pops
are atomic), one per sample interval and a final one with the loop lag and CPU when stopped.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import uvloop

from classcast.clock import Clock
from loadtest.client import Fetcher, StopSignal, play
from loadtest.config import RunConfig
from loadtest.metrics import Recorder, RunStats, Tapped
from loadtest.models.session import ViewerSession
from loadtest.population import make_viewer
from loadtest.runner import FAILED_START_PAUSE_S, GC_THRESHOLDS, tally_viewers
from loadtest.selfcheck import CpuMeter, LoopLagProbe, is_generator_bound
from loadtest.transport import HttpClient

START_TIMEOUT_S = 10.0
DRAIN_S = 1.0  # requests in flight at the end get this long (a Locust master waits for us)


def _start_thread(target: Callable[[], None]) -> object:
    thread = threading.Thread(target=target, name="classcast-viewers", daemon=True)
    thread.start()
    return thread


class Engine:
    def __init__(
        self,
        config: RunConfig,
        start_thread: Callable[[Callable[[], None]], object] = _start_thread,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`start_thread` must start a real OS thread (under gevent, the original
        `_thread.start_new_thread`: gevent's patched `threading` would block its hub); `sleep` is
        the host's own, for polling from the host's thread."""
        self.config = config
        self.sleep = sleep
        self._start_thread = start_thread
        self._done = False
        self.clock: Clock = time.monotonic
        self.deltas: collections.deque[dict[str, Any]] = collections.deque()
        # every request, as it ends (Recorder.tap), for the host's own statistics
        self.requests: collections.deque[Tapped] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = False
        self._viewers: dict[int, tuple[asyncio.Task[None], list[ViewerSession | None]]] = {}
        self._stopped: asyncio.Event | None = None
        self._intervals = 0
        self._frozen_at = 0

    # -- called from the host's thread --------------------------------------------------------

    def start(self) -> None:
        self._start_thread(self._run)
        if not self._wait_for(lambda: self._ready, START_TIMEOUT_S):
            raise RuntimeError("the viewer engine did not start")

    def add(self, viewer_id: int, cohort: str) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._add, viewer_id, cohort)

    def remove(self, viewer_id: int) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._remove, viewer_id)

    def stop(self) -> None:
        """End every session, push the final delta, and wait for the thread."""
        if self._loop is not None and self._stopped is not None and not self._done:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._wait_for(lambda: self._done, DRAIN_S + 10)

    def _wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Poll a flag, not a lock: under gevent the two threads may share no primitive."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.sleep(0.01)
        return True

    def take_requests(self) -> list[Tapped]:
        """The requests ended since the last call (safe from the host's thread)."""
        taken = []
        requests = self.requests
        while requests:
            taken.append(requests.popleft())
        return taken

    def take(self) -> list[dict[str, Any]]:
        taken = []
        while self.deltas:
            taken.append(self.deltas.popleft())
        return taken

    # -- the engine's thread ------------------------------------------------------------------

    def _run(self) -> None:
        # The runner's GC tuning (loadtest/runner.py, GC_THRESHOLDS): rare collections, and
        # the sessions frozen as they join (see _sample), or full collections stall the loop.
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._main())
        finally:
            self._done = True

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.http = HttpClient(
            self.clock, self.config.request_timeout_s, insecure=self.config.insecure
        )
        self.recorder = Recorder()
        self.recorder.tap = self.requests
        self.stop_signal = StopSignal()
        probe, cpu = LoopLagProbe(self.clock), CpuMeter(self.clock)
        self.fetcher = Fetcher(self.http, self.recorder, self.clock, self.clock())
        background = [
            asyncio.create_task(probe.run()),
            asyncio.create_task(self._sample(cpu, probe)),
        ]
        self._ready = True
        await self._stopped.wait()
        ended = self.clock()
        self.stop_signal.set()
        tasks = [task for task, _ in self._viewers.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=DRAIN_S)
        for task in [*background, *tasks]:
            task.cancel()
        await asyncio.gather(*background, *tasks, return_exceptions=True)
        await self.http.close()
        for _, holder in self._viewers.values():
            if holder[0] is not None:
                self.recorder.record_session(holder[0].finish(ended))
        lag_p99, overall = probe.lag.percentile(0.99), cpu.overall()
        self._push(
            final={
                "loop_lag": probe.lag.to_dict(),
                "cpu_cores": overall,
                "generator_bound": is_generator_bound(lag_p99, overall, self.config.limits),
            }
        )

    def _add(self, viewer_id: int, cohort: str) -> None:
        holder: list[ViewerSession | None] = [None]
        task = asyncio.get_running_loop().create_task(self._hold(viewer_id, cohort, holder))
        self._viewers[viewer_id] = (task, holder)

    def _remove(self, viewer_id: int) -> None:
        entry = self._viewers.pop(viewer_id, None)
        if entry is None:
            return
        task, holder = entry
        task.cancel()
        if holder[0] is not None:  # a viewer who leaves ends the session they were watching
            self.recorder.record_session(holder[0].finish(self.clock()))

    async def _hold(self, viewer_id: int, cohort: str, holder: list[ViewerSession | None]) -> None:
        number = 0
        while True:
            session = make_viewer(self.config, viewer_id, number, self.clock(), cohort)
            holder[0] = session
            await play(session, self.fetcher, self.clock, self.stop_signal)
            if self.stop_signal.is_set:
                return
            holder[0] = None
            self.recorder.record_session(session.finish(self.clock()))
            number += 1
            if session.report.start_failed:
                await asyncio.sleep(FAILED_START_PAUSE_S)

    async def _sample(self, cpu: CpuMeter, probe: LoopLagProbe) -> None:
        interval = self.config.sample_interval_s
        tick = self.clock()
        while True:
            tick += interval
            await asyncio.sleep(max(0.0, tick - self.clock()))
            now = self.clock()
            current = self.recorder.current
            tally_viewers(current, (holder[0] for _, holder in self._viewers.values()), now)
            if len(self._viewers) > self._frozen_at:  # new viewers since the last freeze
                gc.freeze()
                self._frozen_at = len(self._viewers)
            current.cpu = cpu.interval()
            current.loop_lag_p99 = probe.take_recent().percentile(0.99)
            self.recorder.close_interval()
            self._push()

    def _push(self, final: dict[str, Any] | None = None) -> None:
        """Hand the statistics gathered since the last push to the host, as plain data."""
        stats, self.recorder.stats = self.recorder.stats, RunStats()
        delta = {"stats": stats.to_dict(), "first_interval": self._intervals, "final": final}
        self._intervals += len(stats.timeline)
        self.deltas.append(delta)


def merge_delta(into: RunStats, delta: dict[str, Any]) -> None:
    """Add one delta to `into`; its timeline slices land at their place in the run."""
    stats = RunStats.from_dict(delta["stats"])
    timeline, stats.timeline = stats.timeline, []
    into.merge(stats)
    for offset, interval in enumerate(timeline):
        index = delta["first_interval"] + offset
        while len(into.timeline) <= index:
            into.timeline.append(type(interval)())
        into.timeline[index].merge(interval)
