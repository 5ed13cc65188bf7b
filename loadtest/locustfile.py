"""The harness's viewers as Locust users, so Locust's master/worker mode spreads them over
machines, and the master writes the same report as `python -m loadtest run`.

    locust -f loadtest/locustfile.py --master --headless --expect-workers 2 \\
        -u 2000 -r 100 -t 120s --host http://edge:8080 \\
        --report out/ --threshold 'p95(startup_time)<2s' --threshold 'rebuffer_ratio<0.01'
    locust -f loadtest/locustfile.py --worker --master-host MASTER   # on each generator

    CLASSCAST_TARGET=/live/grade-5/master.m3u8   path on --host, or a full URL
    CLASSCAST_STB_RENDITION=highest              lowest, highest or a rendition name
    CLASSCAST_PHONE_BANDWIDTH=walk=4000,500,8000

User classes `SetTopBox` and `Phone` (weights 8:2) are the cohorts. A Locust user only *holds*
a viewer: each worker runs its viewers on the harness's own engine (`loadtest/engine.py`: the
same models, HTTP transport and recorder as `python -m loadtest run`, on uvloop in a thread of
the worker), because gevent and `requests` cost several times the CPU per viewer. When the run
stops, the master asks every worker for its statistics, merges their histograms bucket by
bucket and writes `summary.json` / `report.html` under `--report`; the process exits 1 when a
`--threshold` fails, as `python -m loadtest run` does. Locust's own statistics (web UI, CSV,
`--only-summary`) show the viewers' requests too, one row per kind (master, playlist, segment,
...: a row per URL would be thousands): each worker fires Locust's request event for every
request its engine ended, once a second (`TAP_S`), with the time to the last byte; a status of 0
(no answer) or >= 500 is a failure, as in the report. Locust is an optional extra
(`classcast[locust]`); the asyncio runner never imports this module.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from gevent import monkey
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtest.config import DEFAULT_CONFIG, RunConfig, from_sources, load_file
from loadtest.engine import Engine, merge_delta
from loadtest.errors import ConfigError
from loadtest.histogram import Histogram
from loadtest.metrics import RunStats
from loadtest.outcome import report
from loadtest.runner import RunResult, WorkerResult
from loadtest.thresholds import parse_threshold

TARGET = os.environ.get("CLASSCAST_TARGET", "/live/grade-5/master.m3u8")
STB_RENDITION = os.environ.get("CLASSCAST_STB_RENDITION", "highest")
PHONE_BANDWIDTH = os.environ.get("CLASSCAST_PHONE_BANDWIDTH", "walk=4000,500,8000")
FINISH, FINAL = "classcast_finish", "classcast_final"
FINAL_WAIT_S = 30.0  # how long the master waits for every worker's statistics
HOLD_S = 3600.0
TAP_S = 1.0  # how often the engine's ended requests are fired into Locust's statistics
EXIT_USAGE = 2  # as python -m loadtest

_ids = itertools.count()


class Run:
    """This process's part: the engine (workers and local runs) or the merged results (master)."""

    engine: Engine | None = None
    started = 0.0
    stats = RunStats()
    workers: dict[str, WorkerResult] = {}
    peak_users = 0
    tapping: gevent.Greenlet | None = None


class ViewerUser(User):
    abstract = True
    cohort = "stb"
    wait_time = constant(HOLD_S)

    def on_start(self) -> None:
        self.viewer_id = next(_ids)
        assert Run.engine is not None, "the viewer engine starts with the test"
        Run.engine.add(self.viewer_id, self.cohort)

    @task
    def watch(self) -> None:
        """The viewer plays in the engine; this greenlet only keeps the user alive."""

    def on_stop(self) -> None:
        if Run.engine is not None:
            Run.engine.remove(self.viewer_id)


class SetTopBox(ViewerUser):
    weight = 8
    cohort = "stb"


class Phone(ViewerUser):
    weight = 2
    cohort = "phone"


def run_config(environment: Environment) -> RunConfig:
    options = environment.parsed_options
    target = TARGET if TARGET.startswith("http") else (environment.host or "") + TARGET
    path = DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None
    file_values = load_file(path) if path is not None else {}
    report_dir = getattr(options, "report", None)
    return from_sources(
        file_values,
        {
            "target": target,
            "viewers": max(Run.peak_users, getattr(options, "num_users", 0) or 0, 1),
            "duration_s": max(time.monotonic() - Run.started, 1e-3) if Run.started else 1.0,
            "ramp_s": 0.0,
            "stb_rendition": STB_RENDITION,
            "phone_bandwidth": PHONE_BANDWIDTH,
            "report_dir": report_dir,
            "thresholds": list(getattr(options, "threshold", None) or []),
            "mix": "stb=0.8,phone=0.2",
        },
        path,
    )


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--report", default=None, help="classcast: directory for summary.json")
    parser.add_argument(
        "--threshold", action="append", default=[], help="classcast: e.g. 'p95(startup_time)<2s'"
    )


@events.init.add_listener
def _init(environment: Environment, **_: object) -> None:
    runner = environment.runner
    try:
        for rule in getattr(environment.parsed_options, "threshold", None) or []:
            parse_threshold(rule)  # a bad rule stops the run before it starts
    except ConfigError as error:
        print(f"classcast: error: {error}", file=sys.stderr)
        os._exit(EXIT_USAGE)  # Locust would print a traceback for SystemExit raised here
    if isinstance(runner, MasterRunner):
        runner.register_message(FINAL, _on_final)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(FINISH, _on_finish)


@events.test_start.add_listener
def _test_start(environment: Environment, **_: object) -> None:
    Run.started = time.monotonic()
    if isinstance(environment.runner, MasterRunner) or Run.engine is not None:
        return
    # The engine's thread must be a real one, started below gevent's patched `threading`.
    start_thread = monkey.get_original("_thread", "start_new_thread")
    Run.engine = Engine(
        run_config(environment),
        start_thread=lambda target: start_thread(target, ()),
        sleep=gevent.sleep,
    )
    Run.engine.start()
    Run.tapping = gevent.spawn(_tap_loop, environment)


def _tap_loop(environment: Environment) -> None:
    while Run.engine is not None:
        gevent.sleep(TAP_S)
        _tap(environment, Run.engine)


def _tap(environment: Environment, engine: Engine | None) -> None:
    """Fire Locust's request event for each request the engine ended since the last time."""
    if engine is None:
        return
    fire = environment.events.request.fire
    for kind, status, seconds, size in engine.take_requests():
        error = None
        if status == 0 or status >= 500:
            error = f"HTTP {status}" if status else "no answer"
        fire(  # type: ignore[no-untyped-call]
            request_type="GET",
            name=kind,
            response_time=seconds * 1000.0,
            response_length=size,
            exception=error,
            context={},
        )


@events.spawning_complete.add_listener
def _spawned(user_count: int, **_: object) -> None:
    Run.peak_users = max(Run.peak_users, user_count)


def _finish_engine(environment: Environment) -> tuple[RunStats, WorkerResult | None]:
    """Stop this process's viewers; everything they recorded, merged."""
    engine, Run.engine = Run.engine, None
    stats = RunStats()
    worker = None
    if engine is None:
        return stats, None
    engine.stop()
    if Run.tapping is not None:
        Run.tapping.kill(block=False)
        Run.tapping = None
    _tap(environment, engine)  # the last requests, before Locust's final statistics
    for delta in engine.take():
        merge_delta(stats, delta)
        final = delta["final"]
        if final is not None:
            worker = WorkerResult(
                RunStats(), final["loop_lag"], final["cpu_cores"], final["generator_bound"]
            )
    return stats, worker


# -- worker side ------------------------------------------------------------------------------


def _on_finish(environment: Environment, msg: Any, **_: object) -> None:
    stats, worker = _finish_engine(environment)
    assert isinstance(environment.runner, WorkerRunner)
    environment.runner.send_message(
        FINAL,
        {
            "worker": environment.runner.client_id,
            "stats": stats.to_dict(),
            "loop_lag": worker.loop_lag if worker else Histogram().to_dict(),
            "cpu_cores": worker.cpu_cores if worker else 0.0,
            "generator_bound": worker.generator_bound if worker else False,
        },
    )


# -- master side ------------------------------------------------------------------------------


def _on_final(environment: Environment, msg: Any, **_: object) -> None:
    data = msg.data
    merge_delta(Run.stats, {"stats": data["stats"], "first_interval": 0})
    Run.workers[data["worker"]] = WorkerResult(
        RunStats(), data["loop_lag"], data["cpu_cores"], data["generator_bound"]
    )


@events.test_stopping.add_listener
def _stopping(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    expected = runner.worker_count
    runner.send_message(FINISH, None)
    deadline = time.monotonic() + FINAL_WAIT_S
    while len(Run.workers) < expected and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if len(Run.workers) < expected:
        print(f"classcast: {expected - len(Run.workers)} worker(s) sent no statistics in time")


@events.quitting.add_listener
def _quitting(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if isinstance(runner, MasterRunner):
        stats, workers = Run.stats, list(Run.workers.values())
    else:  # a local run: this process held the viewers
        stats, worker = _finish_engine(environment)
        workers = [worker] if worker else []
    if not workers:
        return
    config = run_config(environment)
    rules = [parse_threshold(text) for text in config.thresholds]
    environment.process_exit_code = report(config, RunResult(stats, workers), rules)
    if config.report_dir is not None:
        print(f"classcast: report in {Path(config.report_dir).resolve()}")
