"""The supervisor's decisions that need no processes (the processes: tests/e2e/test_workers.py)."""

from __future__ import annotations

import pytest

from edge.node.supervisor import MAX_BACKOFF_S, restart_delay


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
