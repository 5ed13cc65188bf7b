"""Step whole viewer sessions with a fake clock against a scripted server (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

import pytest

from loadtest.bandwidth import FixedProfile
from loadtest.models.actions import LANES, Fetch, Lane, Response, Stop, Wait
from loadtest.models.phone import PhoneSession
from loadtest.models.session import SessionSettings, ViewerSession
from loadtest.models.stb import make_set_top_box
from tests.loadtest.builders import master_playlist, media_playlist

LIVE = "http://edge.test/live/grade-5/master.m3u8"
VOD = "http://edge.test/vod/lesson-1/master.m3u8"
LADDER = [("180p", 300_000), ("360p", 560_000)]
# url, now -> (status, body, size, seconds the download takes)
Server = Callable[[Fetch, float], tuple[int, str | None, int, float]]


def live_server(segment_seconds: Callable[[int], float]) -> Server:
    """A live channel that gains one 4 s segment every 4 s, six in the window."""

    def answer(fetch: Fetch, now: float) -> tuple[int, str | None, int, float]:
        if fetch.kind == "master":
            return 200, master_playlist(LADDER), 200, 0.01
        newest = int(now // 4)
        if fetch.kind == "playlist":
            return 200, media_playlist(newest - 5, 6), 400, 0.01
        return 200, None, 150_000, segment_seconds(fetch.sequence)

    return answer


def vod_server(segment_seconds: float) -> Server:
    def answer(fetch: Fetch, now: float) -> tuple[int, str | None, int, float]:
        if fetch.kind == "master":
            return 200, master_playlist(LADDER), 200, 0.01
        if fetch.kind == "playlist":
            return 200, media_playlist(0, 10, ended=True), 400, 0.01
        return 200, None, 280_000, segment_seconds

    return answer


def simulate(viewer: ViewerSession, server: Server, start: float, until: float) -> list[Fetch]:
    """A discrete-event driver: each lane is either waiting or has one request in flight."""
    fetched: list[Fetch] = []
    ready_at: dict[Lane, float | None] = dict.fromkeys(LANES, start)
    in_flight: dict[Lane, tuple[Fetch, Response]] = {}
    now = start
    while now < until:
        for lane in LANES:
            ready = ready_at[lane]
            if lane in in_flight or ready is None or ready > now:
                continue
            action = viewer.next_action(lane, now)
            if isinstance(action, Fetch):
                status, body, size, took = server(action, now)
                in_flight[lane] = (action, Response(status, now, now + took, size, body))
                fetched.append(action)
            elif isinstance(action, Wait):
                ready_at[lane] = action.until if action.until is not None else float("inf")
            elif isinstance(action, Stop):
                ready_at[lane] = None
        events = [response.finished for _, response in in_flight.values()]
        events += [t for lane, t in ready_at.items() if t is not None and lane not in in_flight]
        if not events or min(events) == float("inf"):
            break
        now = max(now, min(events))
        for lane, (fetch, response) in list(in_flight.items()):
            if response.finished <= now:
                del in_flight[lane]
                viewer.on_response(fetch, response, now)
                ready_at = {k: (now if v is not None else None) for k, v in ready_at.items()}
    return fetched


def test_set_top_box_plays_live_in_real_time_without_stalls() -> None:
    viewer = make_set_top_box(LIVE, 100.0, "lowest", SessionSettings())
    fetched = simulate(viewer, live_server(lambda _: 0.2), 100.0, 200.0)
    report = viewer.finish(200.0)
    segments = [f for f in fetched if f.kind == "segment"]
    assert segments[0].sequence == 23  # playlist 20..25 at t=100: 23 starts 12 s from the end
    assert [f.sequence for f in segments] == list(range(23, 23 + len(segments)))
    assert len(segments) == pytest.approx(100 / 4, abs=2)  # real time: one per 4 s
    assert all(f.url.startswith("http://edge.test/live/grade-5/180p/") for f in segments)
    assert report.startup_time == pytest.approx(0.22)
    assert report.rebuffer_count == 0
    assert report.bitrate_bps == 300_000
    assert 8 < (report.live_lag_mean or 0) < 20
    playlist_loads = [f for f in fetched if f.kind == "playlist"]
    assert len(playlist_loads) <= 100 / 4 * 1.5 + 2  # never more than RFC 8216 6.3.4 allows


def test_set_top_box_stalls_when_segments_arrive_late() -> None:
    slow = {26, 27}  # two segments that take 9 s each to arrive
    viewer = make_set_top_box(LIVE, 100.0, "lowest", SessionSettings())
    simulate(viewer, live_server(lambda seq: 9.0 if seq in slow else 0.2), 100.0, 200.0)
    report = viewer.finish(200.0)
    assert report.rebuffer_count >= 1
    assert report.rebuffer_s > 1.0
    assert 0 < report.rebuffer_ratio < 0.2
    assert report.segment_ratio_max == pytest.approx(9.0 / 4.0)


def test_start_failure_when_the_master_never_loads() -> None:
    def broken(fetch: Fetch, now: float) -> tuple[int, str | None, int, float]:
        return 503, None, 0, 0.01

    viewer = make_set_top_box(LIVE, 0.0, "lowest", SessionSettings(start_timeout_s=5.0))
    simulate(viewer, broken, 0.0, 30.0)
    report = viewer.finish(30.0)
    assert report.start_failed
    assert report.errors >= 5


def test_phone_plays_a_recorded_lesson_and_switches_up() -> None:
    viewer = PhoneSession(VOD, 0.0, FixedProfile(5_000_000), SessionSettings())
    fetched = simulate(viewer, vod_server(0.5), 0.0, 120.0)
    report = viewer.finish(120.0)
    segments = [f for f in fetched if f.kind == "segment"]
    assert [f.sequence for f in segments] == list(range(10))
    assert segments[0].level == 0 and segments[-1].level == 1
    assert report.switches == 1
    assert report.rebuffer_count == 0
    assert report.played_s == pytest.approx(40.0)
    assert set(report.seconds_by_rendition) == {"180p", "360p"}
    assert viewer.state(120.0) == "ended"


def says_bs(cmcd: str) -> bool:
    return "bs" in unquote(cmcd.removeprefix("CMCD=")).split(",")


def test_a_phone_says_each_stall_by_bs_on_its_next_segment_request_as_hls_js() -> None:
    viewer = PhoneSession(LIVE, 100.0, FixedProfile(100_000), SessionSettings())
    sent: list[tuple[Fetch, str]] = []
    server = live_server(lambda seq: 6.0)  # a 4 s segment takes 6 s: it keeps running dry

    def speaking(fetch: Fetch, now: float) -> tuple[int, str | None, int, float]:
        sent.append((fetch, viewer.cmcd(fetch, now)))
        return server(fetch, now)

    simulate(viewer, speaking, 100.0, 160.0)
    told = viewer.stalls_told(160.0)
    flagged = [fetch for fetch, cmcd in sent if says_bs(cmcd)]
    assert viewer.buffer.rebuffer_count >= 3
    assert flagged and all(fetch.kind == "segment" for fetch in flagged)  # never a playlist
    assert told.rebuffers == viewer.buffer.rebuffer_count
    # every `bs` sent was answered but the last, still in flight at 160 s
    assert told.told + told.lost == len(flagged) and told.lost <= 1
    assert told.told + told.merged + told.after_last + told.lost == told.rebuffers


def test_two_stalls_between_two_segment_requests_are_one_bs() -> None:
    viewer = PhoneSession(LIVE, 0.0, FixedProfile(100_000), SessionSettings())
    buffer = viewer.buffer
    buffer.append(0.0, 2.0, 300_000)  # plays from 0 s, runs dry at 2 s
    buffer.append(3.0, 2.0, 300_000)  # plays again from 3 s, dry again at 5 s
    assert viewer.stalls_told(6.0).after_last == 2  # no request since: not said (yet)
    playlist = Fetch("playlist", "http://edge.test/live/grade-5/180p/index.m3u8", 0)
    assert not says_bs(viewer.cmcd(playlist, 6.0))
    segment = Fetch("segment", "http://edge.test/live/grade-5/180p/7.ts", 0, 7, 4.0)
    assert says_bs(viewer.cmcd(segment, 6.0))
    viewer.on_response(segment, Response(0, 6.0, 16.0, 0), 16.0)  # timed out
    assert not says_bs(viewer.cmcd(segment, 16.0))  # said once, even if unanswered
    told = viewer.stalls_told(16.0)
    assert (told.told, told.merged, told.after_last, told.lost) == (0, 1, 0, 1)


def test_a_redirected_playlist_resolves_its_uris_against_where_it_came_from() -> None:
    viewer = make_set_top_box(LIVE, 0.0, "highest", SessionSettings())
    master = viewer.next_action("playlist", 0.0)
    assert isinstance(master, Fetch) and master.kind == "master"
    moved = "http://cdn.test/live/grade-5/master.m3u8"
    body = master_playlist(LADDER)
    viewer.on_response(master, Response(200, 0.0, 0.01, len(body), body, url=moved), 0.01)
    media = viewer.next_action("playlist", 0.01)
    assert isinstance(media, Fetch) and media.url == "http://cdn.test/live/grade-5/360p/index.m3u8"
    body = media_playlist(10, 6)
    viewer.on_response(media, Response(200, 0.01, 0.02, len(body), body, url=moved), 0.02)
    segment = viewer.next_action("segment", 0.02)
    assert isinstance(segment, Fetch) and segment.url.startswith("http://cdn.test/live/grade-5/")
