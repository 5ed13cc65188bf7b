"""LL-HLS at the origin: parts cut from the real sample segments, the part clock driven by a
fake clock, the rendered playlist, and the app's blocking reloads and held parts."""

from __future__ import annotations

import itertools

import m3u8
import pytest

from classcast.llhls import read_facts
from origin.errors import ScheduleError
from origin.live import build_timeline
from origin.llplaylists import render_ll_media
from origin.models import Segment
from origin.parts import PartPlan, exists_at, live_parts
from origin.schedule import parse_schedule
from origin.tsparts import PACKET, TsError, cut_parts, part_body
from tests.origin.conftest import CONTENT, EPOCH, FakeClock, MakeClient

SEGMENT = CONTENT / "math-fractions" / "180p" / "seg_00001.ts"


def test_parts_cut_at_frames_cover_the_segment() -> None:
    body = SEGMENT.read_bytes()
    layout = cut_parts(body, 0.5, 4.0)
    parts = layout.parts
    assert len(parts) == 8  # 25 fps: 13 or 12 frames a part
    assert [p.independent for p in parts] == [True] + [False] * 7  # one keyframe, at the start
    assert sum(p.duration for p in parts) == pytest.approx(4.0)
    assert max(p.duration for p in parts) <= 0.52 + 1e-9
    assert parts[0].start == 0 and parts[-1].end == len(body)
    assert all(a.end == b.start and b.start % PACKET == 0 for a, b in itertools.pairwise(parts))
    # every part after the first carries the PAT/PMT; without them the bytes are the segment's
    assert layout.psi[0] == 0x47 and len(layout.psi) % PACKET == 0
    joined = b"".join(part_body(body, layout, i)[len(layout.psi) if i else 0 :] for i in range(8))
    assert joined == body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "whole number"),
        (b"\x47" + bytes(186), "whole number"),
        (b"\x46" + bytes(187), "lost sync"),
        (b"\x47" + bytes(187), "no video PES"),
    ],
)
def test_bad_transport_streams(body: bytes, problem: str) -> None:
    with pytest.raises(TsError, match=problem):
        cut_parts(body, 0.5, 4.0)


def plan_of(timeline_len: int) -> PartPlan:
    layout = cut_parts(SEGMENT.read_bytes(), 0.5, 4.0)
    return PartPlan((layout,) * timeline_len)


TIMELINE = build_timeline([("a", [Segment(f"/vod/a/360p/s{n}.ts", 4.0) for n in range(5)])])
PLAN = plan_of(5)


@pytest.mark.parametrize(
    ("elapsed", "last_msn", "last_part", "hint"),
    [
        (16.0, 3, 7, "parts/4.0.ts"),  # on a segment boundary: the last segment's last part
        (16.519, 3, 7, "parts/4.0.ts"),
        (16.52, 4, 0, "parts/4.1.ts"),  # part 0 of segment 4 (0.52 s) has just ended
        (17.0, 4, 1, "parts/4.2.ts"),
        (19.999, 4, 6, "parts/4.7.ts"),
    ],
)
def test_part_clock(elapsed: float, last_msn: int, last_part: int, hint: str) -> None:
    clock = FakeClock(EPOCH + elapsed)
    live = live_parts(TIMELINE, PLAN, EPOCH, clock(), 4)
    assert (live.last_msn, live.last_part(PLAN, TIMELINE)) == (last_msn, last_part)
    text = render_ll_media(live, PLAN, TIMELINE)
    assert f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"' in text
    facts = read_facts(text)
    assert (facts.last_msn, facts.last_part) == (last_msn, last_part)


def test_a_part_exists_once_its_time_has_passed() -> None:
    clock = FakeClock(EPOCH)
    ready = exists_at(TIMELINE, PLAN, EPOCH, 4, 1)
    assert ready == pytest.approx(EPOCH + 16 + 1.0)
    clock.now = ready - 0.001
    assert live_parts(TIMELINE, PLAN, EPOCH, clock(), 4).parts_done == 1
    clock.advance(0.001)
    assert live_parts(TIMELINE, PLAN, EPOCH, clock(), 4).parts_done == 2
    assert exists_at(TIMELINE, PLAN, EPOCH, 4, None) == EPOCH + 20  # a whole segment: its end
    assert exists_at(TIMELINE, PLAN, EPOCH, 4, 99) == EPOCH + 20


def test_rendered_playlist_keeps_legacy_players_working() -> None:
    live = live_parts(TIMELINE, PLAN, EPOCH, EPOCH + 37.1, 6)
    text = render_ll_media(live, PLAN, TIMELINE)
    playlist = m3u8.loads(text)
    assert [s.uri for s in playlist.segments if s.uri] == [
        f"/vod/a/360p/s{n % 5}.ts" for n in range(3, 9)
    ]
    assert all(s.program_date_time is not None for s in playlist.segments if s.uri)
    lines = text.splitlines()
    assert (
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24.0,PART-HOLD-BACK=1.560"
        in lines
    )
    assert "#EXT-X-PART-INF:PART-TARGET=0.520" in lines
    # parts only for the segments ending within three target durations of the newest
    assert not any(line.startswith("#EXT-X-PART:") and "parts/5." in line for line in lines)
    assert '#EXT-X-PART:DURATION=0.520,URI="parts/6.0.ts",INDEPENDENT=YES' in lines
    assert '#EXT-X-PART:DURATION=0.480,URI="parts/9.1.ts"' in lines


def test_schedule_low_latency_settings() -> None:
    base = {"epoch": "2025-09-01T08:00:00Z", "lessons": ["a"]}
    specs = parse_schedule(
        {
            "channels": {
                "ll": {**base, "low_latency": True},
                "fast": {**base, "low_latency": True, "part_duration": 0.25},
                "plain": {**base, "part_duration": 0.25},
            }
        }
    )
    assert [spec.part_duration for spec in specs] == [0.5, 0.25, None]
    bads: list[tuple[dict[str, object], str]] = [
        ({"low_latency": "yes"}, "low_latency: must be true or false"),
        ({"low_latency": True, "part_duration": 0.01}, "part_duration: must be 0.1..2.0"),
        ({"low_latency": True, "part_duration": "0.5"}, "part_duration: must be a number"),
    ]
    for bad, problem in bads:
        with pytest.raises(ScheduleError, match=problem):
            parse_schedule({"channels": {"x": {**base, **bad}}})


# --- the app: grade-5 is low-latency in config/schedule.toml, grade-10 is legacy ---

PLAYLIST = "/live/grade-5/180p/index.m3u8"


@pytest.fixture
def moving_clock(clock: FakeClock) -> FakeClock:
    clock.now = EPOCH + 1000.3  # segment 250 started at +1000 s; no part of it is done yet
    return clock


async def test_blocking_reload_is_held_until_the_part_exists(
    make_client: MakeClient, moving_clock: FakeClock
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the hold, on the fake clock
        slept.append(seconds)
        moving_clock.advance(seconds)

    client = await make_client(sleep=sleep)
    plain = await client.get(PLAYLIST)
    facts = read_facts(await plain.text())
    assert (facts.last_msn, facts.last_part) == (249, 7)
    assert plain.headers["Cache-Control"] == "public, max-age=1"
    held = await client.get(PLAYLIST, params={"_HLS_msn": "250", "_HLS_part": "2"})
    assert held.status == 200
    assert slept == [pytest.approx(1.52 - 0.3)]  # parts 0-2 of segment 250 end at +1.52 s
    facts = read_facts(await held.text())
    assert (facts.last_msn, facts.last_part) == (250, 2)
    # rfc8216bis Appendix B: a blocking answer is the same forever, so 6 target durations
    assert held.headers["Cache-Control"] == "public, max-age=24"
    assert held.headers["Last-Modified"] == "Mon, 01 Sep 2025 08:16:41 GMT"
    again = await client.get(PLAYLIST, params={"_HLS_msn": "249", "_HLS_part": "2"})
    assert again.status == 200 and len(slept) == 1  # already there: answered at once


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"_HLS_part": "1"}, "_HLS_part needs _HLS_msn"),
        ({"_HLS_msn": "252"}, "more than two segments past 249"),
        ({"_HLS_msn": "249", "_HLS_part": "20"}, "advance part limit"),
        ({"_HLS_msn": "x"}, "decimal integer"),
    ],
)
async def test_directives_the_spec_answers_with_400(
    make_client: MakeClient, moving_clock: FakeClock, params: dict[str, str], reason: str
) -> None:
    client = await make_client()
    response = await client.get(PLAYLIST, params=params)
    assert response.status == 400
    assert reason in await response.text()


async def test_hinted_part_is_held_then_sent(
    make_client: MakeClient, moving_clock: FakeClock
) -> None:
    async def sleep(seconds: float) -> None:
        moving_clock.advance(seconds)

    client = await make_client(sleep=sleep)
    text = await (await client.get(PLAYLIST)).text()
    assert '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="parts/250.0.ts"' in text
    response = await client.get("/live/grade-5/180p/parts/250.0.ts")
    assert response.status == 200
    assert moving_clock.now == pytest.approx(EPOCH + 1000.52)
    assert response.headers["Content-Type"] == "video/mp2t"
    assert "immutable" in response.headers["Cache-Control"]
    body = await response.read()
    assert body[0] == 0x47 and len(body) % PACKET == 0


@pytest.mark.parametrize(
    ("path", "status", "cache"),
    [
        ("/live/grade-5/180p/parts/260.0.ts", 404, "no-store"),  # too far ahead to hold
        ("/live/grade-5/180p/parts/250.8.ts", 404, "public, max-age=1"),  # no such part
        ("/live/grade-5/180p/parts/250.x.ts", 404, "public, max-age=1"),
        ("/live/grade-10/180p/parts/250.0.ts", 404, "public, max-age=1"),  # a legacy channel
    ],
)
async def test_parts_that_are_not_there(
    make_client: MakeClient, moving_clock: FakeClock, path: str, status: int, cache: str
) -> None:
    response = await (await make_client()).get(path)
    assert response.status == status
    assert response.headers["Cache-Control"] == cache


async def test_delta_update_from_the_origin(
    make_client: MakeClient, moving_clock: FakeClock
) -> None:
    client = await make_client(live_window=12)
    full = await (await client.get(PLAYLIST)).text()
    delta = await (await client.get(PLAYLIST, params={"_HLS_skip": "YES"})).text()
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=6" in delta
    assert read_facts(delta).last_msn == read_facts(full).last_msn
    assert len(delta) < len(full)


async def test_legacy_channel_is_unchanged(
    make_client: MakeClient, moving_clock: FakeClock
) -> None:
    text = await (await (await make_client()).get("/live/grade-10/180p/index.m3u8")).text()
    assert "#EXT-X-VERSION:3" in text and "EXT-X-PART" not in text


async def test_portal_plays_ll_channels_in_low_latency_mode(make_client: MakeClient) -> None:
    client = await make_client()
    ll = await (await client.get("/watch/live/grade-5")).text()
    legacy = await (await client.get("/watch/live/grade-10")).text()
    assert 'data-low-latency="true"' in ll and 'data-low-latency="false"' in legacy
    assert "data-behind" in ll  # where the page says how far behind live the viewer is
    script = await (await client.get("/assets/portal.js")).text()
    assert "lowLatencyMode: this.lowLatency" in script and "hls.latency" in script
