"""The report's "what the edge saw" (issue 19): one run's comparison, a city's sum over edges,
and the accuracy verdicts, with the rebuffers CMCD could not report kept beside, never dropped."""

from __future__ import annotations

from typing import Any

from loadtest import audience


def one_run(phones: int, edge_viewers: float, edge_stalls: float, told: int) -> dict[str, Any]:
    stalls = {
        "live/grade-10": {
            "rebuffers": told + 3,
            "told": told,
            "merged": 1,
            "after_last": 2,
            "lost": 0,
            "no_cmcd": 4,
        }
    }
    truth = {"live/grade-10": {"all": phones + 10, "phone": phones, "stb": 10}}
    probe = {"viewers": {"live/grade-10": edge_viewers}, "stalls": {}}
    before = {"viewers": {}, "stalls": {"live/grade-10": 5.0}}
    after = {"viewers": {}, "stalls": {"live/grade-10": 5.0 + edge_stalls}}
    return audience.compare(truth, stalls, probe, before, after)


def test_a_run_compares_the_edge_with_the_rebuffers_cmcd_reported_and_shows_the_rest() -> None:
    row = one_run(20, 30.0, 7.0, 7)["contents"]["live/grade-10"]
    assert (row["harness_viewers"], row["edge_viewers"], row["edge_stalls"]) == (30, 30.0, 7.0)
    assert (row["harness_rebuffers"], row["harness_rebuffers_reportable"]) == (10, 7)
    assert row["harness_rebuffers_unreported"] == {
        "after_last_request": 2,
        "merged_into_one_bs": 1,
        "request_unanswered": 0,
    }
    assert row["harness_rebuffers_no_cmcd"] == 4


def test_a_city_sums_the_harness_over_runs_and_each_edge_once() -> None:
    # edge-0 watched by two groups (both read edge-0's /metrics), edge-1 by one
    seen = audience.summed(
        {
            "edge-0": [one_run(20, 61.0, 9.0, 5), one_run(21, 61.0, 9.0, 4)],
            "edge-1": [one_run(10, 20.0, 3.0, 3)],
        }
    )
    row = seen["contents"]["live/grade-10"]
    assert seen["said"]
    assert row["harness_viewers"] == 30 + 31 + 20 and row["edge_viewers"] == 61.0 + 20.0
    assert row["harness_by_cohort"] == {"phone": 51, "stb": 30}
    assert row["harness_rebuffers_reportable"] == 12 and row["edge_stalls"] == 12.0
    assert row["harness_rebuffers"] == 12 + 9
    assert row["harness_rebuffers_unreported"]["after_last_request"] == 6
    assert row["edges"] == ["edge-0", "edge-1"]
    assert all(passed for _, passed, _ in audience.verdicts(seen))


def test_the_verdicts_fail_a_miss_and_say_what_was_not_reportable() -> None:
    seen = audience.summed({"edge-0": [one_run(40, 45.0, 16.0, 20)]})
    (viewers, viewers_ok, _), (stalls, stalls_ok, detail) = audience.verdicts(seen)
    assert "viewers" in viewers and not viewers_ok  # 45 against 50: beyond 2 % + 1
    assert "stalls" in stalls and not stalls_ok  # 16 against 20: beyond 5 %
    assert "reportable 20 of 23" in detail and "after last request 2" in detail
    silent = audience.summed({"edge-0": [audience.compare({}, {}, None, None, None)]})
    assert not silent["said"]
