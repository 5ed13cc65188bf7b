"""The LL-HLS viewer: parsing parts with their program date-times, the blocking reload it asks
for, where it starts (PART-HOLD-BACK), and its latency figure checked against the PDT."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classcast.llhls import read_facts
from loadtest.__main__ import main
from loadtest.llplaylist import parse_low_latency
from loadtest.models.actions import Fetch, Response, Wait
from loadtest.models.llhls import LowLatencySession, Position, blocking_url, start_position
from loadtest.models.session import SessionSettings
from tests.support.llplaylists import playlist
from tests.support.process import origin_and_edge

BASE = "http://edge.test/live/ch/360p/index.m3u8"
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\n360p/index.m3u8\n"
PDT_0 = datetime(2025, 9, 1, 8, 0, 20, tzinfo=UTC).timestamp()  # segment 105 in the builder


def ll_playlist(trailing: int = 3) -> str:
    """Segments 100-105 (105 in 8 parts of 0.5 s), then parts 0..trailing-1 of 106."""
    return playlist(6, parts_last=8, trailing=trailing)


@pytest.mark.parametrize("trailing", [0, 3])
def test_parse_agrees_with_the_shared_facts(trailing: int) -> None:
    text = ll_playlist(trailing)
    parsed = parse_low_latency(text, BASE)
    facts = read_facts(text)
    assert (parsed.last_msn, parsed.last_part) == (facts.last_msn, facts.last_part)
    assert parsed.can_block and parsed.part_hold_back == 1.5 and parsed.target_duration == 4
    first = parsed.part(105, 0)
    assert first is not None and first.url == "http://edge.test/live/ch/360p/p105.0.ts"
    assert first.pdt == PDT_0
    third = parsed.part(105, 2)
    assert third is not None and third.pdt == PDT_0 + 1.0
    if trailing:  # no PDT tag before the trailing parts: they follow segment 105
        assert parsed.parts[-1].pdt == PDT_0 + 4.0 + 0.5 * (trailing - 1)


def test_blocking_url_asks_for_the_next_part() -> None:
    parsed = parse_low_latency(ll_playlist(3), BASE)
    assert blocking_url(BASE, parsed) == f"{BASE}?_HLS_msn=106&_HLS_part=3"
    complete = parse_low_latency(ll_playlist(0), BASE)
    assert blocking_url(BASE + "?t=1", complete) == f"{BASE}?t=1&_HLS_msn=106&_HLS_part=0"


def test_start_respects_the_part_hold_back() -> None:
    text = ll_playlist(3).replace('p105.6.ts"', 'p105.6.ts",INDEPENDENT=YES')
    text = text.replace('p106.2.ts"', 'p106.2.ts",INDEPENDENT=YES')
    parsed = parse_low_latency(text, BASE)
    # 106.2 is 0.5 s from the edge (< 1.5 s hold-back): load from 105.6 (2.5 s behind) and skip
    # the 1.0 s before the live sync point
    assert start_position(parsed) == (Position(105, 6), 1.0)


def respond(body: str, at: float, url: str | None = None) -> Response:
    return Response(200, at, at, len(body), body, url)


def test_latency_is_wall_clock_minus_the_pdt_of_what_plays() -> None:
    wall_offset = 1000.0
    settings = SessionSettings(startup_buffer_s=1.0)
    now = PDT_0 + 5.6 - wall_offset  # engine time at which the wall clock reads PDT_0 + 5.6
    master_url = "http://edge.test/live/ch/master.m3u8"
    viewer = LowLatencySession(master_url, now, "360p", settings, wall_offset)
    master = viewer.next_action("playlist", now)
    assert isinstance(master, Fetch) and master.kind == "master"
    viewer.on_response(master, respond(MASTER, now), now)
    plain = viewer.next_action("playlist", now)
    assert isinstance(plain, Fetch) and plain.url == BASE
    text = ll_playlist(3).replace('p105.6.ts"', 'p105.6.ts",INDEPENDENT=YES')
    viewer.on_response(plain, respond(text, now), now)
    blocking = viewer.next_action("playlist", now)
    assert isinstance(blocking, Fetch) and blocking.url.endswith("_HLS_msn=106&_HLS_part=3")
    fetched = []
    for _ in range(5):  # every listed part from the start, fetched at once
        action = viewer.next_action("segment", now)
        assert isinstance(action, Fetch) and action.kind == "segment"
        fetched.append(action.url.rsplit("/", 1)[1])
        viewer.on_response(action, Response(200, now, now, 1000), now)
    assert fetched == ["p105.6.ts", "p105.7.ts", "p106.0.ts", "p106.1.ts", "p106.2.ts"]
    assert viewer.next_action("segment", now) == Wait(None)  # 106.3 is not out yet
    # 105.6 and 105.7 are skipped (before the sync point); 106.0 + 106.1 fill the startup
    # buffer, so the playhead shows 106.0's first sample: PDT_0 + 4.0, 1.6 s before the wall
    # clock (the 1.5 s hold-back and the 0.1 s the viewer came late)
    assert viewer.report.latency_samples == [pytest.approx(1.6), pytest.approx(1.6)]


@pytest.mark.e2e
def test_ll_run_through_origin_and_edge_measures_latency(tmp_path: Path) -> None:
    with origin_and_edge(tmp_path) as (_, edge):
        code = main(
            [
                "run",
                "--ll",
                "--target",
                edge.url + "/live/grade-5/master.m3u8",
                "--viewers",
                "4",
                "--duration",
                "8",
                "--rendition",
                "lowest",
                "--report",
                str(tmp_path / "report"),
                "--no-progress",
                "--threshold",
                "start_failure_ratio==0",
            ]
        )
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert code == 0, summary["thresholds"]
    latency = summary["cohorts"]["ll"]["latency"]
    assert latency["count"] >= 8  # a sample per part played, per viewer
    # behind live by about the hold-back plus the startup buffer: far below a segment's worth
    assert 0.5 < latency["p50"] < 4.0, latency
    assert summary["requests"]["playlist"]["statuses"].get("400", 0) == 0


def test_legacy_parser_plays_complete_segments_of_an_ll_playlist() -> None:
    from loadtest.playlist import parse_media

    media = parse_media(ll_playlist(3), BASE)
    assert [s.sequence for s in media.segments] == list(range(100, 106))
    assert media.segments[-1].url == "http://edge.test/live/ch/360p/s105.ts"
