"""The harness against the real origin and edge, as processes on loopback."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from loadtest.__main__ import main
from tests.support.process import ROOT, origin_and_edge

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (ROOT / "origin" / "__main__.py").exists()
        or not (ROOT / "edge" / "__main__.py").exists(),
        reason="origin/__main__.py or edge/__main__.py is missing",
    ),
]
EDGE_REQUESTS = re.compile(r'^classcast_edge_requests_total\{cache="([^"]+)"\} ([0-9.e+]+)$', re.M)


def edge_requests(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {label: int(float(value)) for label, value in EDGE_REQUESTS.findall(text)}


def origin_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + "/_stats", timeout=5) as answer:
        return dict(json.loads(answer.read())["requests"])


def test_live_run_through_the_real_edge(tmp_path: Path) -> None:
    with origin_and_edge(tmp_path) as (origin, edge):
        before = edge_requests(edge.url)
        code = main(
            [
                "run",
                "--target",
                edge.url + "/live/grade-5/master.m3u8",
                "--viewers",
                "8",
                "--duration",
                "10",
                "--ramp",
                "1",
                "--mix",
                "stb=0.75,phone=0.25",
                "--rendition",
                "lowest",
                "--report",
                str(tmp_path / "report"),
                "--no-progress",
                "--threshold",
                "start_failure_ratio==0",
                "--threshold",
                "p95(startup_time)<5s",
            ]
        )
        after = edge_requests(edge.url)
        at_origin = origin_stats(origin.url)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert code == 0, summary["thresholds"]
    ours = sum(kind["count"] for kind in summary["requests"].values())
    theirs = sum(after.values()) - sum(before.values())
    assert ours == theirs, (summary["requests"], before, after)
    x_cache: dict[str, int] = {}
    for kind in summary["requests"].values():
        for value, count in kind["x_cache"].items():
            x_cache[value] = x_cache.get(value, 0) + count
    assert x_cache == {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    # The edge's point: each segment reached the origin at most once, however many viewers.
    segment_fetches = [count for path, count in at_origin.items() if path.endswith(".ts")]
    assert segment_fetches and max(segment_fetches) == 1
    assert summary["cohorts"]["stb"]["rebuffers"] == 0
