"""Origin + edge as real processes: coalescing, live playlists, a real player, bad input."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import CONTENT, Stack
from tests.edge.fakes import raw_request
from tests.support.process import run_service, stop

pytestmark = pytest.mark.e2e
DTS_REMARK = "non monotonically increasing dts to muxer"


async def test_200_concurrent_cold_requests_cost_the_origin_one_fetch(stack: Stack) -> None:
    path = "/vod/science-water-cycle/360p/seg_00004.ts"
    expected = (CONTENT / "science-water-cycle/360p/seg_00004.ts").read_bytes()
    # a slow origin: the fill takes about a second
    stack.set_faults(bytes_per_second=len(expected), path_prefix=path)
    started = time.monotonic()

    async def fetch(session: aiohttp.ClientSession) -> tuple[str, float, float, bytes]:
        async with session.get(stack.edge.url + path) as response:
            first = await response.content.readany()
            ttfb = time.monotonic() - started
            body = first + await response.read()
            return response.headers["X-Cache"], ttfb, time.monotonic() - started, body

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            results = await asyncio.gather(*(fetch(session) for _ in range(200)))
    finally:
        stack.set_faults()
    assert stack.origin_hits(path) == 1
    assert all(body == expected for *_, body in results)
    labels = [label for label, *_ in results]
    assert labels.count("MISS") == 1
    assert labels.count("COALESCED") + labels.count("HIT") == 199
    fill_time = max(total for _, _, total, _ in results)
    ttfbs = sorted(ttfb for label, ttfb, _, _ in results if label != "HIT")
    # waiters stream from the running fill: their first bytes come long before it completes
    assert ttfbs[len(ttfbs) // 2] < fill_time / 2, (ttfbs[len(ttfbs) // 2], fill_time)


async def test_live_playlist_through_the_edge_advances_and_age_stays_under_cap(
    stack: Stack,
) -> None:
    url = stack.edge.url + "/live/grade-8/180p/index.m3u8"
    sequences: list[int] = []
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 9  # more than two 4 s segments
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                body = await response.text()
                assert response.status == 200
                assert int(response.headers["Age"]) <= 6  # 1.5 target durations
                sequences.append(int(re.search(r"MEDIA-SEQUENCE:(\d+)", body).group(1)))  # type: ignore[union-attr]
            await asyncio.sleep(0.5)
        async with session.get(stack.origin.url + "/live/grade-8/180p/index.m3u8") as response:
            origin_now = int(re.search(r"MEDIA-SEQUENCE:(\d+)", await response.text()).group(1))  # type: ignore[union-attr]
    assert sequences == sorted(sequences)
    assert sequences[-1] - sequences[0] >= 1
    assert sequences[-1] >= origin_now - 1  # at most one segment behind the origin


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is installed by .ci/run")
def test_ffmpeg_plays_a_live_channel_through_the_edge(stack: Stack) -> None:
    # 14 s of media: more than the three segments ffmpeg starts with, so it must reload live
    result = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostats",
            "-progress",
            "pipe:1",
            "-i",
            stack.edge.url + "/live/grade-10/master.m3u8",
            "-t",
            "14",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # At a lesson boundary (EXT-X-DISCONTINUITY, RFC 8216 4.3.2.3) timestamps restart; ffmpeg's
    # HLS demuxer passes them on and its null muxer remarks on it. That is not a decode error.
    errors = [line for line in result.stderr.splitlines() if DTS_REMARK not in line]
    assert errors == []
    assert "out_time=00:00:14" in result.stdout
    assert "progress=end" in result.stdout


@pytest.mark.parametrize(
    ("target", "status", "reason"),
    [
        ("/vod/no-such-lesson/master.m3u8", 404, "lesson"),
        ("/live/no-such-channel/master.m3u8", 404, "channel"),
        ("/vod/../../etc/passwd", 400, "path traversal"),
        ("/vod/%2e%2e/%2e%2e/etc/passwd", 400, "path traversal"),
        ("/vod/math-fractions/%00master.m3u8", 400, "nul"),
    ],
)
async def test_bad_input_gets_a_4xx_with_a_reason(
    stack: Stack, target: str, status: int, reason: str
) -> None:
    host, port = stack.edge.url.removeprefix("http://").split(":")
    got, body = await raw_request(host, int(port), target)
    assert got == status
    assert reason in body.decode().lower()
    got, _ = await raw_request(
        host, int(port), "/vod/math-fractions/360p/seg_00000.ts", "Range: bytes=z\r\n"
    )
    assert got == 400
    got, _ = await raw_request(host, int(port), "/healthz", "X-Huge: " + "h" * 20000 + "\r\n")
    assert 400 <= got < 500
    assert stack.edge.process.poll() is None
    got, _ = await raw_request(host, int(port), "/healthz")
    assert got == 200


def test_sigterm_stops_the_edge_cleanly_and_a_restart_keeps_the_cache(
    stack: Stack, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    args = ["--upstream", stack.origin.url, "--cache-dir", str(cache)]
    path = "/vod/reading-stories/180p/seg_00001.ts"
    with run_service("edge", args, tmp_path / "a.log") as edge:
        aiohttp_free_get(edge.url + path)
        started = time.monotonic()
        assert stop(edge.process) == 0
        assert time.monotonic() - started < 6
    before = stack.origin_hits(path)
    with run_service("edge", args, tmp_path / "b.log") as edge:
        headers = aiohttp_free_get(edge.url + path)
        assert headers["X-Cache"] == "HIT"
    assert stack.origin_hits(path) == before


def aiohttp_free_get(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url) as response:
        response.read()
        return dict(response.headers)


def test_edge_rejects_a_bad_flag_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "serve", "--upstream", "http://127.0.0.1:1", "--port", "x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--port" in result.stderr
