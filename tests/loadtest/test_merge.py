"""`python -m loadtest merge`: runs merged bucket by bucket, so percentiles are exact."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from loadtest.__main__ import main
from loadtest.config import RunConfig
from loadtest.histogram import Histogram
from loadtest.metrics import Recorder, RequestRecord
from loadtest.models.report import ViewerReport
from loadtest.outcome import report
from loadtest.runner import RunResult, WorkerResult
from loadtest.thresholds import parse_threshold
from tests.loadtest.fake_hls import FakeHls, serve_in_thread

RULES = ("p95(ttfb.segment)<0.05s", "p99(startup_time)<2s")


def samples(seed: int, count: int) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)
    return [
        (rng.lognormvariate(-5, 1), rng.expovariate(3), rng.randint(1, 10**6)) for _ in range(count)
    ]


def write_run(directory: Path, rows: list[tuple[float, float, int]]) -> None:
    """A run whose segment TTFBs, startup times and sizes are exactly `rows`."""
    recorder = Recorder()
    for index, (ttfb, startup, size) in enumerate(rows):
        recorder.record_request(
            RequestRecord("segment", "stb", f"/s{index}.ts", 200, 0.0, ttfb, ttfb * 2, size, "HIT")
        )
        recorder.record_session(ViewerReport(cohort="stb", startup_time=startup, played_s=4.0))
        if index % 100 == 0:
            recorder.close_interval()
    recorder.close_interval()
    worker = WorkerResult(recorder.stats, recorder_lag(), 0.2, False)
    config = RunConfig(
        target="http://127.0.0.1:1/m.m3u8",
        viewers=len(rows),
        duration_s=10,
        report_dir=directory,
        thresholds=RULES,
    )
    assert report(
        config, RunResult(recorder.stats, [worker]), [parse_threshold(r) for r in RULES]
    ) in (0, 1)


def recorder_lag() -> dict[str, Any]:
    lag = Histogram()
    lag.record(0.001)
    return lag.to_dict()


def exact(tree: Any) -> Any:
    """The tree without means (float sums added in another order differ in the last bits)."""
    if isinstance(tree, dict):
        return {key: exact(value) for key, value in tree.items() if key != "mean"}
    return tree


def read(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / "summary.json").read_text()))


def test_two_runs_merged_give_the_percentiles_of_one_run_over_the_union(tmp_path: Path) -> None:
    first, second = samples(1, 700), samples(2, 1300)
    write_run(tmp_path / "a", first)
    write_run(tmp_path / "b", second)
    write_run(tmp_path / "union", first + second)
    code = main(
        ["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--report", str(tmp_path / "m")]
    )
    merged, union = read(tmp_path / "m"), read(tmp_path / "union")
    assert exact(merged["requests"]) == exact(union["requests"])
    assert exact(merged["cohorts"]) == exact(union["cohorts"])
    assert merged["requests"]["segment"]["ttfb"]["mean"] == pytest.approx(
        union["requests"]["segment"]["ttfb"]["mean"], rel=1e-12
    )  # sums of floats in another order
    assert merged["thresholds"] == union["thresholds"]
    assert code == (0 if union["passed"] else 1)
    # and the merge is not an average of the two runs' percentiles
    a, b = read(tmp_path / "a"), read(tmp_path / "b")
    p99 = [r["requests"]["segment"]["ttfb"]["p99"] for r in (a, b, merged)]
    assert p99[2] != pytest.approx((p99[0] + p99[1]) / 2, rel=1e-3)
    assert merged["viewers"] == 2000 and (tmp_path / "m" / "report.html").exists()


def test_merged_thresholds_set_the_exit_status(tmp_path: Path) -> None:
    write_run(tmp_path / "a", samples(3, 50))
    write_run(tmp_path / "b", samples(4, 50))
    runs = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert (
        main(
            [
                "merge",
                *runs,
                "--report",
                str(tmp_path / "ok"),
                "--threshold",
                "requests.segment==100",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "merge",
                *runs,
                "--report",
                str(tmp_path / "no"),
                "--threshold",
                "requests.segment<100",
            ]
        )
        == 1
    )
    assert read(tmp_path / "no")["thresholds"][0]["value"] == 100


def test_bad_merge_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text('{"viewers": 3}')
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "summary.json").write_text("{not json")
    for bad in ("missing", "old", "junk"):
        assert main(["merge", str(tmp_path / bad), "--report", str(tmp_path / "out")]) == 2
        error = capsys.readouterr().err
        assert error.startswith("loadtest: error: ") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_two_real_runs_merge_into_counts_that_add_up(tmp_path: Path) -> None:
    fake = FakeHls()
    with serve_in_thread(fake.app()) as base:
        for name in ("a", "b"):
            code = main(
                [
                    "run",
                    "--target",
                    base + "/live/grade-5/master.m3u8",
                    "--viewers",
                    "5",
                    "--duration",
                    "2.5",
                    "--ramp",
                    "0.2",
                    "--mix",
                    "stb=0.6,phone=0.4",
                    "--report",
                    str(tmp_path / name),
                    "--no-progress",
                ]
            )
            assert code == 0
    assert (
        main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--report", str(tmp_path / "m")])
        == 0
    )
    merged = read(tmp_path / "m")
    assert {k: v["count"] for k, v in merged["requests"].items()} == dict(fake.by_kind())
    assert merged["viewers"] == 10 and len(merged["generator"]["workers"]) == 2
