"""The drill's verdict and its command line (the drill itself runs in tests/e2e/test_drill.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from loadtest.__main__ import main
from loadtest.drill import DrillReport

GOOD = DrillReport(
    4.0,
    6.1,
    0.5,
    sessions=8,
    start_failures=0,
    rebuffers=0,
    rebuffer_s=0.0,
    played_s=190.0,
    errors=0,
)


@pytest.mark.parametrize(
    ("change", "passed"),
    [
        ({}, True),
        ({"rebuffers": 1}, False),
        ({"start_failures": 1}, False),
        ({"sessions": 0}, False),
        ({"fresh_after_s": None}, False),
        ({"fresh_after_s": 4.0}, True),
        ({"fresh_after_s": 4.01}, False),
    ],
)
def test_a_drill_passes_only_with_no_stall_and_fresh_playlists_within_a_td(
    change: dict[str, Any], passed: bool
) -> None:
    assert dataclasses.replace(GOOD, **change).passed is passed


def test_missing_flags_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["drill", "--target", "http://127.0.0.1:1/live/x/master.m3u8"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m loadtest drill: error:") and err.count("\n") == 1


def test_an_unreachable_target_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "drill",
            "--target",
            "http://127.0.0.1:1/live/x/master.m3u8",
            "--origin",
            "http://127.0.0.1:1",
            "--origin-stop",
            "true",
            "--origin-start",
            "true",
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "no master playlist (status 0)" in err and err.count("\n") == 1
