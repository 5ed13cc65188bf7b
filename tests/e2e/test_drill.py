"""Outage drills with real processes: the origin stops while set-top boxes watch a live channel
through the edge (no stall, fresh playlists within a target duration of its return), and an
origin down for longer turns the live playlist into 503 with Retry-After, never a frozen 200."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from loadtest.drill import DrillPlan, drill
from tests.e2e.conftest import CONTENT
from tests.support.process import ROOT, Service, free_port, run_service, stop, wait_ready

pytestmark = pytest.mark.e2e
CHANNEL = "/live/grade-8"
TD = 4.0  # the sample schedule's target duration


class Origin:
    """A real origin on a fixed port, so it can be stopped and started again in place."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log_path = self.log_dir / f"origin-{self.starts}.log"
        command = [
            sys.executable,
            "-m",
            "origin",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--content",
            str(CONTENT),
            "--schedule",
            str(ROOT / "config/schedule.toml"),
        ]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_ready(self.url, self.process, log_path)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def origin_and_edge(tmp_path: Path) -> Iterator[tuple[Origin, Service]]:
    origin = Origin(tmp_path)
    origin.start()
    try:
        with run_service("edge", ["--upstream", origin.url], tmp_path / "edge.log") as edge:
            yield origin, edge
    finally:
        origin.stop()


def test_viewers_ride_out_an_origin_restart_without_a_stall(
    origin_and_edge: tuple[Origin, Service],
) -> None:
    origin, edge = origin_and_edge
    plan = DrillPlan(target=f"{edge.url}{CHANNEL}/master.m3u8", origin=origin.url, viewers=8)
    result = drill(plan, origin.stop, origin.start)
    print(f"\ndrill (origin stopped and restarted): {result}")
    assert origin.starts == 2  # the origin really went away and came back
    assert result.target_duration == TD
    assert result.outage_s >= 1.5 * TD
    assert result.sessions >= 8 and result.start_failures == 0
    assert result.rebuffers == 0, result
    assert result.fresh_after_s is not None and result.fresh_after_s <= TD, result
    assert result.passed


def test_the_drill_command_with_a_hung_origin(origin_and_edge: tuple[Origin, Service]) -> None:
    origin, edge = origin_and_edge
    assert origin.process is not None
    pid = origin.process.pid
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest",
            "drill",
            "--target",
            f"{edge.url}{CHANNEL}/master.m3u8",
            "--origin",
            origin.url,
            "--viewers",
            "4",
            "--origin-stop",
            f"kill -STOP {pid}",
            "--origin-start",
            f"kill -CONT {pid}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    print(f"\ndrill (origin hung with SIGSTOP): {run.stdout}")
    summary = orjson.loads(run.stdout)
    assert (run.returncode, summary["passed"]) == (0, True), run.stdout + run.stderr
    assert summary["rebuffers"] == 0 and summary["outage_s"] >= 1.5 * TD


def test_a_live_playlist_turns_503_with_retry_after_past_its_cap(
    origin_and_edge: tuple[Origin, Service],
) -> None:
    origin, edge = origin_and_edge
    url = f"{edge.url}{CHANNEL}/180p/index.m3u8"
    assert urllib.request.urlopen(url, timeout=5).status == 200
    origin.stop()
    stopped = time.monotonic()
    seen: list[tuple[float, int, dict[str, str]]] = []
    while time.monotonic() - stopped < 2 * TD + 3:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                seen.append((time.monotonic() - stopped, answer.status, dict(answer.headers)))
        except urllib.error.HTTPError as error:
            with error:
                seen.append((time.monotonic() - stopped, error.code, dict(error.headers)))
        if seen[-1][1] != 200:
            break
        time.sleep(0.25)
    served = [(t, h) for t, status, h in seen if status == 200]
    failed_at, status, headers = seen[-1]
    print(
        f"\nlast 200 at {served[-1][0]:.1f} s (Age {served[-1][1]['Age']}), {status} at "
        f"{failed_at:.1f} s after the origin stopped"
    )
    assert status == 503, seen[-1]
    assert headers["Retry-After"] == str(int(TD))
    assert failed_at <= 2 * TD + 1  # stale for at most two target durations
    assert all(int(h["Age"]) <= 2 * TD for _, h in served)  # never a 200 older than the cap
    assert served[-1][1]["X-Cache"] == "STALE"  # the cap was reached by serving stale
