"""Throttled viewers (issue 20): a body that reaches the client in one read is held to the
viewer's bandwidth like one read in many (LL parts are that small, and so is any segment once
the socket's receive buffer has grown), so a throttled LL viewer that cannot keep up stalls."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import uvloop
from aiohttp import web

from loadtest.__main__ import main
from loadtest.transport import HttpClient
from tests.loadtest.fake_hls import serve_in_thread
from tests.support.channels import starving_kbps
from tests.support.process import SAMPLE_ORIGIN, run_service

BODY = bytes(20_000)  # one read on loopback
RATE_BPS = 160_000.0  # 20 kB is one second at this rate


async def fetch_throttled(url: str) -> tuple[int, int, float]:
    client = HttpClient(time.monotonic, read_timeout_s=10.0)
    viewer = client.connections()
    try:
        started = time.monotonic()
        answer = await viewer.get(url, False, lambda now: RATE_BPS)
        took = time.monotonic() - started
        again = await viewer.get(url, False, None)  # the connection is reused afterwards
        assert again.status == 200
        return answer.status, answer.size, took
    finally:
        viewer.close()
        await client.close()


def test_a_body_read_at_once_still_takes_as_long_as_the_viewers_bandwidth_allows() -> None:
    async def part(request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="video/mp2t")

    app = web.Application()
    app.router.add_get("/part.ts", part)
    with (
        serve_in_thread(app) as base,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        status, size, took = runner.run(fetch_throttled(base + "/part.ts"))
    assert (status, size) == (200, len(BODY))
    # a lower bound set by the throttle (20 kB at 160 kbit/s), not a speed figure
    assert took >= len(BODY) * 8 / RATE_BPS * 0.95


@pytest.mark.e2e
def test_a_throttled_ll_viewer_that_cannot_keep_up_reports_rebuffers(tmp_path: Path) -> None:
    with run_service("origin", SAMPLE_ORIGIN, tmp_path / "origin.log") as origin:
        # 60 % of the lowest rung: a viewer starts (its hold-back arrives in a few seconds)
        # and then falls behind; a fixed figure never let one start in a heavier lesson
        kbps = starving_kbps(origin.url, "grade-5", 0.6)
        code = main(
            [
                "run",
                "--ll",
                "--target",
                origin.url + "/live/grade-5/master.m3u8",  # an LL channel
                "--viewers",
                "2",
                "--duration",
                "16",  # starting below the rung's rate takes up to ~10 s in a heavy lesson
                "--ramp",
                "0.5",
                "--rendition",
                "lowest",
                "--ll-bandwidth",
                f"fixed={kbps}",
                "--report",
                str(tmp_path / "report"),
                "--no-progress",
            ]
        )
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert code == 0
    ll = summary["cohorts"]["ll"]
    assert ll["start_failures"] == 0
    assert ll["rebuffers"] >= 1, ll
    assert ll["rebuffer_ratio"] > 0.0
