"""The supervisor's decisions that need no processes (the processes: tests/e2e/test_workers.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge.supervisor import MAX_BACKOFF_S, restart_delay
from tests.support.process import ROOT


@pytest.mark.parametrize(
    ("previous", "quick", "wait"),
    [
        (0.0, False, 0.0),  # a worker that ran, then died: replaced at once
        (4.0, False, 0.0),  # ... whatever happened before
        (0.0, True, 0.25),  # died at start-up: wait, then twice as long each time
        (0.25, True, 0.5),
        (2.0, True, 4.0),
        (4.0, True, MAX_BACKOFF_S),
        (MAX_BACKOFF_S, True, MAX_BACKOFF_S),
    ],
)
def test_restart_delay(previous: float, quick: bool, wait: float) -> None:
    assert restart_delay(previous, quick) == wait


def test_a_crash_loop_backs_off_and_a_good_run_resets_it() -> None:
    waits, wait = [], 0.0
    for quick in (True, True, True, False, True, True):
        wait = restart_delay(wait, quick)
        waits.append(wait)
    assert waits == [0.25, 0.5, 1.0, 0.0, 0.25, 0.5]


@pytest.mark.parametrize(
    ("stdin", "status", "message"),
    [
        (b"not json", 2, "edge: config error: "),
        (b'{"upstreams": []}', 2, "edge: config error: upstreams: "),
        (b'{"upstreams": ["http://127.0.0.1:9"]}', 1, "edge: cannot start: Bad file descriptor"),
    ],
)
def test_a_worker_started_wrongly_says_why_in_one_line(
    stdin: bytes, status: int, message: str
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "worker",
            "--index",
            "0",
            "--listen-fd",
            "97",
            "--hub-fd",
            "98",
        ],
        input=stdin,
        capture_output=True,
        timeout=30,
        cwd=ROOT,
    )
    lines = done.stderr.decode().splitlines()
    assert (done.returncode, len(lines)) == (status, 1), done.stderr
    assert lines[0].startswith(message)
