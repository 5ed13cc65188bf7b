"""Issue 19's accuracy check, small: harness viewers through a 2-worker edge node. Set-top boxes
(no CMCD, each from its own 127.x.y.z) watch one channel (LL-HLS, grade-5), phones (CMCD, as
hls.js) a legacy one (grade-10); the edge's classcast_edge_viewers per channel must be within
2 % (+1) of the harness's active viewers, the edge's stalls must match the phones' rebuffer
events that CMCD reported (`bs` on the next segment request, as hls.js) within 5 %, and once
the viewers stop the gauges fall to 0 within the window plus one second. The support lookup
finds a set-top box by its address on whichever worker served it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.channels import starving_kbps
from tests.support.process import ROOT, origin_and_edge

pytestmark = pytest.mark.e2e
TOKEN = "viewers-admin-token"
WINDOW_TARGETS = 1.5  # 6 s with the sample library's 4 s segments: a short wait at the end
TARGET_S = 4.0
VIEWERS = 24
DURATION_S = 20  # a phone's first stall is told on its segment request after next


def scrape(base: str) -> dict[str, dict[str, float]]:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            content = sample.labels.get("content")
            if content is not None:
                found.setdefault(sample.name, {})[content] = sample.value
    return found


def harness(edge: str, channel: str, mix: str, report: Path, kbps: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "run",
        "--target",
        f"{edge}/live/{channel}/master.m3u8",
        "--viewers",
        str(VIEWERS),
        "--duration",
        str(DURATION_S),
        "--ramp",
        "2",
        "--mix",
        mix,
        "--phone-bandwidth",
        f"fixed={kbps}",  # below the lowest rendition: phones rebuffer
        "--report",
        str(report),
        "--no-progress",
    ]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def test_the_edge_counts_harness_viewers_per_channel(tmp_path: Path) -> None:
    edge_args = ["--workers", "2", "--no-access-log", "--rate-per-client", "0"]
    edge_args += ["--viewer-window-targets", str(WINDOW_TARGETS)]
    admin = {"CLASSCAST_EDGE_ADMIN_TOKEN": TOKEN}
    with origin_and_edge(tmp_path, edge_args, admin) as (origin, edge):
        kbps = starving_kbps(origin.url, "grade-10", 0.8)  # phones fall behind
        runs = [
            harness(edge.url, "grade-5", "stb=1", tmp_path / "stb", kbps),
            harness(edge.url, "grade-10", "phone=1", tmp_path / "phone", kbps),
        ]
        for run in runs:
            assert run.wait(timeout=DURATION_S + 60) in (0, 1)
        stopped = time.monotonic()
        reports = [
            json.loads((tmp_path / n / "summary.json").read_text()) for n in ("stb", "phone")
        ]
        for report, channel in zip(reports, ("grade-5", "grade-10"), strict=True):
            seen = report["edge_audience"]
            assert seen["said"], seen
            row = seen["contents"][f"live/{channel}"]
            truth, counted = row["harness_viewers"], row["edge_viewers"]
            assert truth >= VIEWERS - 2, row
            assert abs(counted - truth) <= truth * 0.02 + 1, row
        phones = reports[1]["edge_audience"]["contents"]["live/grade-10"]
        rebuffers, stalls = phones["harness_rebuffers"], phones["edge_stalls"]
        reportable, unreported = (
            phones["harness_rebuffers_reportable"],
            phones["harness_rebuffers_unreported"],
        )
        # every phone runs dry (80 % of its rung's rate) and says so by `bs` on its next
        # segment request within the run; stalls after its last one are shown, not said
        assert reportable >= VIEWERS // 2, phones
        assert rebuffers == reportable + sum(unreported.values()), phones
        # the edge counts each `bs` it was sent: within 5 % of the rebuffers CMCD reported,
        # and never more than was said (a `bs` whose answer the phone never got may count)
        lost = unreported["request_unanswered"]
        assert reportable * 0.95 <= stalls <= reportable + lost, phones
        assert phones["harness_rebuffers_no_cmcd"] == 0, phones

        lookup = urllib.request.Request(
            edge.url + "/_admin/viewers?client=127.1.0.1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(lookup, timeout=5) as answer:
            found = json.loads(answer.read())
        [box] = found["sessions"]
        assert box["content"] == "live/grade-5" and box["requests"], box

        window = WINDOW_TARGETS * TARGET_S
        time.sleep(max(0.0, stopped + window + 1.0 - time.monotonic()))
        viewers = scrape(edge.url)["classcast_edge_viewers"]
        assert viewers["live/grade-5"] == viewers["live/grade-10"] == 0, viewers
