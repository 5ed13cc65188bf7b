"""Outage drill: set-top boxes watch a live channel through an edge while the origin is stopped
for a while and started again. Passes when no viewer stalls and the edge's live playlist is
fresh again (as new as the origin's) within one target duration of the origin's return.

    python -m loadtest drill --target http://edge:8081/live/grade-8/master.m3u8 \\
        --origin http://origin:8080 --origin-stop 'systemctl stop classcast-origin' \\
        --origin-start 'systemctl start classcast-origin'

The stop and start commands are the operator's (a service manager, `kill -STOP`/`-CONT` for a
hung origin, ...); the drill waits for the origin's /healthz after starting it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import orjson

from loadtest.config import RunConfig
from loadtest.runner import RunResult, run
from loadtest.stats import CohortStats

Action = Callable[[], None]
PROBE_INTERVAL_S = 0.1
READY_TIMEOUT_S = 30.0
MEDIA_SEQUENCE = re.compile(rb"#EXT-X-MEDIA-SEQUENCE:(\d+)")
TARGET_DURATION = re.compile(rb"#EXT-X-TARGETDURATION:(\d+(?:\.\d+)?)")


class DrillError(Exception):
    """The drill could not run (the target is not a live channel, the origin never came back)."""


@dataclass(frozen=True)
class DrillPlan:
    target: str  # a live master playlist through the edge
    origin: str  # the origin's base URL: its /healthz and its own copy of the playlist
    viewers: int = 8
    outage_td: float = 1.5  # how long the origin stays stopped, in target durations
    warmup_td: float = 2.0  # viewing before the outage
    recovery_td: float = 2.5  # viewing after the origin returns
    rendition: str = "lowest"


@dataclass
class DrillReport:
    target_duration: float
    outage_s: float  # origin stopped until it answered /healthz again
    fresh_after_s: float | None  # origin back until the edge's playlist was as new as its own
    sessions: int
    start_failures: int
    rebuffers: int
    rebuffer_s: float
    played_s: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    x_cache: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            self.sessions > 0
            and self.start_failures == 0
            and self.rebuffers == 0
            and self.fresh_after_s is not None
            and self.fresh_after_s <= self.target_duration
        )


def fetch(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
    except (OSError, TimeoutError):
        return 0, b""


def first_media_playlist(master_url: str) -> str:
    status, body = fetch(master_url)
    uris = [
        line
        for line in body.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if status != 200 or not uris:
        raise DrillError(f"{master_url}: no master playlist (status {status})")
    return urljoin(master_url, uris[0].strip())


def live_state(url: str) -> tuple[int, float] | None:
    """(media sequence, target duration) of a live media playlist, or None if unavailable."""
    status, body = fetch(url)
    sequence, target = MEDIA_SEQUENCE.search(body), TARGET_DURATION.search(body)
    if status != 200 or sequence is None or target is None:
        return None
    return int(sequence[1]), float(target[1])


def wait_ready(origin: str, deadline_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if fetch(origin.rstrip("/") + "/healthz", timeout=1.0)[0] == 200:
            return
        time.sleep(PROBE_INTERVAL_S)
    raise DrillError(f"origin {origin} did not answer /healthz within {deadline_s:.0f} s")


def wait_fresh(edge_media: str, origin_media: str, deadline_s: float) -> float | None:
    """Seconds until the edge's playlist is as new as the origin's, or None past the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        at_origin, at_edge = live_state(origin_media), live_state(edge_media)
        if at_origin is not None and at_edge is not None and at_edge[0] >= at_origin[0]:
            return time.monotonic() - started
        time.sleep(PROBE_INTERVAL_S)
    return None


def drill(plan: DrillPlan, stop_origin: Action, start_origin: Action) -> DrillReport:
    edge_media = first_media_playlist(plan.target)
    origin_media = plan.origin.rstrip("/") + urlsplit(edge_media).path
    state = live_state(edge_media)
    if state is None:
        raise DrillError(f"{edge_media}: not a live media playlist")
    td = state[1]
    ramp_s = 1.0
    config = RunConfig(
        target=plan.target,
        viewers=plan.viewers,
        duration_s=ramp_s + (plan.warmup_td + plan.outage_td + plan.recovery_td) * td,
        ramp_s=ramp_s,
        mix=(("stb", 1.0),),
        stb_rendition=plan.rendition,
        progress=False,
    )
    results: list[RunResult] = []
    viewers = threading.Thread(target=lambda: results.append(run(config, lambda _: None)))
    viewers.start()
    try:
        time.sleep(ramp_s + plan.warmup_td * td)  # the drill's own timeline, not a wait
        stopped = time.monotonic()
        stop_origin()
        time.sleep(plan.outage_td * td)
        start_origin()
        wait_ready(plan.origin)
        back = time.monotonic()
        fresh_after = wait_fresh(edge_media, origin_media, deadline_s=2 * td)
    finally:
        viewers.join(timeout=config.duration_s + 60)
    if not results:
        raise DrillError("the viewers did not finish")
    return report(td, back - stopped, fresh_after, results[0])


def report(td: float, outage_s: float, fresh_after: float | None, result: RunResult) -> DrillReport:
    stb = result.stats.cohorts.get("stb", CohortStats())
    statuses: dict[str, int] = {}
    x_cache: dict[str, int] = {}
    for stats in result.stats.requests.values():
        for name, count in stats.statuses.items():
            statuses[name] = statuses.get(name, 0) + count
        for name, count in stats.cache.items():
            x_cache[name] = x_cache.get(name, 0) + count
    return DrillReport(
        target_duration=td,
        outage_s=round(outage_s, 2),
        fresh_after_s=None if fresh_after is None else round(fresh_after, 2),
        sessions=stb.sessions,
        start_failures=stb.start_failures,
        rebuffers=stb.rebuffers,
        rebuffer_s=round(stb.rebuffer_s, 3),
        played_s=round(stb.played_s, 1),
        errors=stb.errors,
        statuses=statuses,
        x_cache=x_cache,
    )


def shell_action(command: str) -> Action:
    def act() -> None:
        subprocess.run(shlex.split(command), check=True, timeout=60)

    return act


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"python -m loadtest drill: error: {message}\n")


def main(argv: list[str]) -> int:
    parser = _Parser(prog="python -m loadtest drill", description="outage drill")
    parser.add_argument("--target", required=True, help="live master playlist through the edge")
    parser.add_argument("--origin", required=True, help="origin base URL (/healthz, playlists)")
    parser.add_argument("--origin-stop", required=True, help="command that stops the origin")
    parser.add_argument("--origin-start", required=True, help="command that starts it again")
    parser.add_argument("--viewers", type=int, default=8)
    parser.add_argument("--outage-td", type=float, default=1.5, help="in target durations")
    args = parser.parse_args(argv)
    plan = DrillPlan(args.target, args.origin, args.viewers, args.outage_td)
    try:
        result = drill(plan, shell_action(args.origin_stop), shell_action(args.origin_start))
    except (DrillError, subprocess.SubprocessError, OSError) as error:
        print(f"python -m loadtest drill: {error}", file=sys.stderr)
        return 3
    summary: dict[str, Any] = {**asdict(result), "passed": result.passed}
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0 if result.passed else 1
