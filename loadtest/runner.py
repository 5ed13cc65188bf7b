"""Run the viewers: one asyncio (uvloop) event loop per process, `--processes N` across cores."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import queue
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import uvloop

from classcast.clock import Clock
from loadtest import audience
from loadtest.client import Fetcher, StopSignal, play
from loadtest.config import RunConfig
from loadtest.errors import LoadtestError
from loadtest.metrics import Recorder, RunStats
from loadtest.models.session import ViewerSession
from loadtest.population import make_viewer, start_offset, viewer_indices
from loadtest.selfcheck import CpuMeter, LoopLagProbe, is_generator_bound
from loadtest.stats import Interval
from loadtest.transport import HttpClient

Progress = dict[str, Any]
Publish = Callable[[Progress], None]
FAILED_START_PAUSE_S = 1.0
DRAIN_TIMEOUT_S = 5.0  # requests in flight at the end get this long to finish, then are cancelled
RESULT_TIMEOUT_S = 120.0
AUDIENCE_LEAD_S = 1.5  # the edge is asked what it sees this long before the run ends
# Python's cyclic GC walks every live object in a full collection; with 5,000 viewers that
# measured 43 full collections of up to 430 ms in 50 s (loop lag p99 1.2 s). Rarer collections,
# and freezing what the ramp created (sessions live for the whole run), removed those pauses.
GC_THRESHOLDS = (50_000, 50, 1000)


@dataclass
class WorkerResult:
    stats: RunStats
    loop_lag: dict[str, Any]
    cpu_cores: float
    generator_bound: bool
    # what the edge saw beside this process's truth (loadtest/audience.py); {} if not looked
    audience: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    stats: RunStats
    workers: list[WorkerResult] = field(default_factory=list)
    audience: dict[str, Any] = field(default_factory=dict)

    @property
    def generator_bound(self) -> bool:
        return any(worker.generator_bound for worker in self.workers)


class Slot:
    """One simulated viewer, who starts a new session whenever the last one ends."""

    __slots__ = ("index", "session")

    def __init__(self, index: int) -> None:
        self.index = index
        self.session: ViewerSession | None = None


class Worker:
    def __init__(self, config: RunConfig, worker: int, workers: int, publish: Publish) -> None:
        self.config = config
        self.worker = worker
        self.indices = viewer_indices(worker, workers, config.viewers)
        self.publish = publish
        self.clock: Clock = time.monotonic
        self.slots: list[Slot] = []
        self.stop = StopSignal()
        self.stalls: dict[str, dict[str, int]] = {}  # rebuffer events per content, by fate
        self.truth: dict[str, dict[str, int]] = {}
        self.edge: dict[str, Any] = {}

    async def run(self, request_log: IO[bytes] | None) -> WorkerResult:
        recorder = Recorder(request_log)
        probe, cpu = LoopLagProbe(self.clock), CpuMeter(self.clock)
        http = HttpClient(self.clock, self.config.request_timeout_s, insecure=self.config.insecure)
        try:
            started = self.clock()
            fetcher = Fetcher(http, recorder, self.clock, started)
            if self.worker == 0:  # one process asks the edge what it saw
                self.edge["before"] = await audience.scrape(self.metrics_url)
            background = [
                asyncio.create_task(probe.run()),
                asyncio.create_task(self._sample(recorder, probe, cpu, started)),
                asyncio.create_task(self._look(started)),
            ]
            viewers: set[asyncio.Task[None]] = set()
            spawner = asyncio.create_task(self._spawn(viewers, fetcher, recorder, started))
            await asyncio.sleep(self.config.duration_s)
            ended = self.clock()
            spawner.cancel()
            self.stop.set()
            # Drain: let requests in flight finish so every request the server saw is counted.
            if viewers:
                await asyncio.wait(set(viewers), timeout=DRAIN_TIMEOUT_S)
            for task in [spawner, *background, *viewers]:
                task.cancel()
            await asyncio.gather(spawner, *background, *viewers, return_exceptions=True)
        finally:
            await http.close()
        for slot in self.slots:
            if slot.session is not None:
                audience.count_stalls(self.stalls, slot.session, ended)
                recorder.record_session(slot.session.finish(ended))
        if self.worker == 0:
            self.edge["after"] = await audience.scrape(self.metrics_url)
        lag_p99 = probe.lag.percentile(0.99)
        overall = cpu.overall()
        bound = is_generator_bound(lag_p99, overall, self.config.limits)
        looked = {"truth": self.truth, "stalls": self.stalls, "edge": self.edge}
        return WorkerResult(recorder.stats, probe.lag.to_dict(), overall, bound, looked)

    @property
    def metrics_url(self) -> str:
        return audience.metrics_url(self.config.target)

    async def _look(self, started: float) -> None:
        """Near the end of the run (after the ramp), count who watches and ask the edge."""
        lead = min(AUDIENCE_LEAD_S, self.config.duration_s / 4)
        at = started + max(self.config.ramp_s, self.config.duration_s - lead)
        await asyncio.sleep(max(0.0, at - self.clock()))
        self.truth = audience.watching((slot.session for slot in self.slots), self.clock())
        if self.worker == 0:
            self.edge["probe"] = await audience.scrape(self.metrics_url)

    async def _spawn(
        self, viewers: set[asyncio.Task[None]], fetcher: Fetcher, recorder: Recorder, started: float
    ) -> None:
        for index in self.indices:
            due = started + start_offset(index, self.config.viewers, self.config.ramp_s)
            delay = due - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            slot = Slot(index)
            self.slots.append(slot)
            task = asyncio.create_task(self._hold(slot, fetcher, recorder))
            viewers.add(task)
            task.add_done_callback(viewers.discard)
        gc.freeze()

    async def _hold(self, slot: Slot, fetcher: Fetcher, recorder: Recorder) -> None:
        number = 0
        while True:
            session = make_viewer(self.config, slot.index, number, self.clock())
            slot.session = session
            await play(session, fetcher, self.clock, self.stop)
            if self.stop.is_set:
                return  # the run is over; the session is closed at the run's end time
            slot.session = None
            audience.count_stalls(self.stalls, session, self.clock())
            recorder.record_session(session.finish(self.clock()))
            number += 1
            if session.report.start_failed:
                await asyncio.sleep(FAILED_START_PAUSE_S)

    async def _sample(
        self, recorder: Recorder, probe: LoopLagProbe, cpu: CpuMeter, started: float
    ) -> None:
        interval = self.config.sample_interval_s
        tick = started
        while True:
            tick += interval
            await asyncio.sleep(max(0.0, tick - self.clock()))
            now = self.clock()
            current = recorder.current
            tally_viewers(current, (slot.session for slot in self.slots), now)
            current.cpu = cpu.interval()
            current.loop_lag_p99 = probe.take_recent().percentile(0.99)
            finished = recorder.close_interval()
            self.publish(_progress(self.worker, now - started, finished, recorder.stats))


def _progress(worker: int, elapsed: float, interval: Any, stats: RunStats) -> Progress:
    segment = stats.requests.get("segment")
    return {
        "worker": worker,
        "elapsed": elapsed,
        "viewers": interval.viewers,
        "playing": interval.playing,
        "stalled": interval.stalled,
        "starting": interval.starting,
        "requests": interval.requests,
        "bytes": interval.bytes,
        "failures": interval.failures,
        "ttfb_p95": interval.ttfb.percentile(0.95),
        "segment_ttfb_p95": segment.ttfb.percentile(0.95) if segment else 0.0,
        "loop_lag_p99": interval.loop_lag_p99,
        "cpu": interval.cpu,
        "cache_hits": interval.cache_hits,
        "cache_known": interval.cache_known,
    }


def run_worker(config: RunConfig, worker: int, workers: int, publish: Publish) -> WorkerResult:
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        with (
            _request_log(config, worker, workers) as log,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            return runner.run(Worker(config, worker, workers, publish).run(log))
    finally:
        gc.unfreeze()
        gc.set_threshold(*previous)


@contextlib.contextmanager
def _request_log(config: RunConfig, worker: int, workers: int) -> Iterator[IO[bytes] | None]:
    if config.ndjson is None:
        yield None
        return
    path = _log_part(config.ndjson, worker) if workers > 1 else config.ndjson
    with path.open("wb") as log:
        yield log


def _log_part(path: Path, worker: int) -> Path:
    return path.with_name(f"{path.name}.part{worker}")


def _worker_process(config: RunConfig, worker: int, workers: int, channel: Any) -> None:
    try:
        result = run_worker(config, worker, workers, lambda p: channel.put(("progress", p)))
        channel.put(("result", worker, result_to_dict(result)))
    except BaseException as error:  # report anything; the parent decides
        channel.put(("error", worker, f"{type(error).__name__}: {error}"))


def result_to_dict(result: WorkerResult) -> dict[str, Any]:
    return {
        "stats": result.stats.to_dict(),
        "loop_lag": result.loop_lag,
        "cpu_cores": result.cpu_cores,
        "generator_bound": result.generator_bound,
        "audience": result.audience,
    }


def result_from_dict(data: dict[str, Any]) -> WorkerResult:
    return WorkerResult(
        RunStats.from_dict(data["stats"]),
        data["loop_lag"],
        data["cpu_cores"],
        data["generator_bound"],
        data.get("audience", {}),
    )


def run(config: RunConfig, publish: Publish) -> RunResult:
    if config.processes == 1:
        results = [run_worker(config, 0, 1, publish)]
    else:
        results = _run_processes(config, publish)
    merged = RunStats()
    for result in results:
        merged.merge(result.stats)
    return RunResult(merged, results, merged_audience(results))


def merged_audience(results: list[WorkerResult]) -> dict[str, Any]:
    """Every process's truth summed, beside what worker 0 read from the edge."""
    truth: dict[str, dict[str, int]] = {}
    stalls: dict[str, dict[str, int]] = {}
    for result in results:
        for content, counts in result.audience.get("truth", {}).items():
            mine = truth.setdefault(content, {})
            for cohort, count in counts.items():
                mine[cohort] = mine.get(cohort, 0) + count
        audience.add_stalls(stalls, result.audience.get("stalls", {}))
    edge = results[0].audience.get("edge", {}) if results else {}
    return audience.compare(truth, stalls, edge.get("probe"), edge.get("before"), edge.get("after"))


def _run_processes(config: RunConfig, publish: Publish) -> list[WorkerResult]:
    # spawn, not fork: each worker builds its own uvloop loop from a clean interpreter.
    context = multiprocessing.get_context("spawn")
    channel = context.Queue()
    count = config.processes
    processes = [
        context.Process(target=_worker_process, args=(config, index, count, channel), daemon=True)
        for index in range(count)
    ]
    for process in processes:
        process.start()
    results: dict[int, WorkerResult] = {}
    deadline_s = config.duration_s + RESULT_TIMEOUT_S
    try:
        while len(results) < count:
            try:
                message = channel.get(timeout=deadline_s)
            except queue.Empty:
                raise LoadtestError("a worker process did not report back in time") from None
            if message[0] == "progress":
                publish(message[1])
            elif message[0] == "result":
                results[message[1]] = result_from_dict(message[2])
            else:
                raise LoadtestError(f"worker {message[1]} failed: {message[2]}")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    if config.ndjson is not None:
        _concatenate([_log_part(config.ndjson, index) for index in range(count)], config.ndjson)
    return [results[index] for index in range(count)]


def _concatenate(parts: list[Path], target: Path) -> None:
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out)
            part.unlink()


def tally_viewers(current: Interval, sessions: Iterable[ViewerSession | None], now: float) -> None:
    """Count this interval's viewers by playback state and rendition (the progress view)."""
    for session in sessions:
        if session is None:
            continue
        current.viewers += 1
        state = session.state(now)
        if state == "playing":
            current.playing += 1
            name = session.variants[session.level].name
            current.bitrate_mix[name] = current.bitrate_mix.get(name, 0) + 1
        elif state == "stalled":
            current.stalled += 1
        elif state == "starting":
            current.starting += 1
