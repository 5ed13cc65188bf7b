"""Live-window arithmetic against tables: a 3-lesson loop of 2 + 3 + 1 segments."""

from __future__ import annotations

import pytest

from origin.errors import NotStarted
from origin.live import (
    build_timeline,
    completed_segments,
    discontinuities_before,
    live_window,
    now_playing,
)
from origin.models import Segment
from origin.playlists import format_program_date_time, render_live_media

EPOCH = 1_000_000.0


def seg(lesson: str, n: int, duration: float = 4.0) -> Segment:
    return Segment(f"/vod/{lesson}/360p/seg_{n:05d}.ts", duration)


# Loop: a0 a1 | b0 b1 b2 | c0  -> 6 segments, 24 s; lesson starts at indices 0, 2, 5.
TIMELINE = build_timeline(
    [
        ("a", [seg("a", 0), seg("a", 1)]),
        ("b", [seg("b", 0), seg("b", 1), seg("b", 2)]),
        ("c", [seg("c", 0)]),
    ]
)


@pytest.mark.parametrize(
    ("elapsed", "completed"),
    [
        (-5, 0),
        (0, 0),
        (3.999, 0),
        (4, 1),
        (7.9, 1),
        (8, 2),
        (23.9, 5),
        (24, 6),
        (48, 12),
        (24 * 1000 + 4, 6001),
    ],
)
def test_completed_segments(elapsed: float, completed: int) -> None:
    assert completed_segments(TIMELINE, EPOCH, EPOCH + elapsed) == completed


@pytest.mark.parametrize(
    ("sequence", "tags"),
    [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 1),
        (5, 1),
        (6, 2),
        (7, 3),
        (8, 3),
        (9, 4),
        (12, 5),
        (13, 6),
    ],
)
def test_discontinuities_before(sequence: int, tags: int) -> None:
    # tags sit on segments 2 (b0), 5 (c0), 6 (a0 again), 8 (b0), 11 (c0), 12 (a0) ...
    assert discontinuities_before(TIMELINE, sequence) == tags


@pytest.mark.parametrize(
    ("elapsed", "size", "first", "count", "disc_seq", "tagged"),
    [
        (4, 6, 0, 1, 0, []),  # one segment done, nothing before it
        (20, 6, 0, 5, 0, [2]),  # b0 starts a lesson
        (28, 4, 3, 4, 1, [5, 6]),  # window 3..6: c0 and the loop wrap to a0
        (32, 4, 4, 4, 1, [5, 6]),
        (36, 4, 5, 4, 1, [5, 6, 8]),  # first listed segment keeps its tag
        (40, 4, 6, 4, 2, [6, 8]),  # c0's tag slid out: sequence went up by one
        (24 * 100 + 8, 6, 596, 6, 297, [596, 599, 600]),  # 100 loops later, wraps inside
    ],
)
def test_live_window(
    elapsed: float, size: int, first: int, count: int, disc_seq: int, tagged: list[int]
) -> None:
    window = live_window(TIMELINE, EPOCH, EPOCH + elapsed, size)
    assert window.media_sequence == first
    assert len(window.segments) == count
    assert window.discontinuity_sequence == disc_seq
    assert [s.sequence for s in window.segments if s.discontinuity] == tagged
    assert window.segments[-1].end <= EPOCH + elapsed  # only complete segments


def test_segments_times_and_uris_follow_the_loop() -> None:
    window = live_window(TIMELINE, EPOCH, EPOCH + 40, 4)
    assert [s.uri for s in window.segments] == [
        "/vod/a/360p/seg_00000.ts",
        "/vod/a/360p/seg_00001.ts",
        "/vod/b/360p/seg_00000.ts",
        "/vod/b/360p/seg_00001.ts",
    ]
    assert [s.start - EPOCH for s in window.segments] == [24, 28, 32, 36]
    assert window.newest_end == EPOCH + 40


def test_before_the_first_segment_ends_the_channel_has_not_started() -> None:
    with pytest.raises(NotStarted):
        live_window(TIMELINE, EPOCH, EPOCH + 3.9, 6)


def test_uneven_durations_and_target_duration() -> None:
    timeline = build_timeline(
        [("x", [seg("x", 0, 4.0), seg("x", 1, 1.6)]), ("y", [seg("y", 0, 4.4)])]
    )
    assert timeline.target_duration == 4  # round(4.4) = 4 (RFC 8216 4.3.3.1)
    assert completed_segments(timeline, EPOCH, EPOCH + 5.6) == 2
    assert completed_segments(timeline, EPOCH, EPOCH + 10.0) == 3
    assert completed_segments(timeline, EPOCH, EPOCH + 10.0 + 4.0) == 4


@pytest.mark.parametrize(
    ("elapsed", "lesson"), [(0, "a"), (7.9, "a"), (8, "b"), (20, "c"), (24, "a"), (-1, None)]
)
def test_now_playing(elapsed: float, lesson: str | None) -> None:
    on_air = now_playing(TIMELINE, EPOCH, EPOCH + elapsed)
    assert (on_air.lesson_id if on_air else None) == lesson


def test_program_date_time_format() -> None:
    assert format_program_date_time(1756713604.0) == "2025-09-01T08:00:04.000Z"
    assert format_program_date_time(1756713604.25) == "2025-09-01T08:00:04.250Z"


def test_rendered_playlist_is_a_live_playlist() -> None:
    text = render_live_media(live_window(TIMELINE, EPOCH, EPOCH + 36, 4))
    assert text.splitlines()[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:4",
        "#EXT-X-MEDIA-SEQUENCE:5",
        "#EXT-X-DISCONTINUITY-SEQUENCE:1",
    ]
    assert "#EXT-X-ENDLIST" not in text
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 4
    assert text.count("#EXT-X-DISCONTINUITY\n") == 3


def test_same_instant_same_bytes() -> None:
    first = render_live_media(live_window(TIMELINE, EPOCH, EPOCH + 12345.6, 6))
    again = render_live_media(live_window(TIMELINE, EPOCH, EPOCH + 12345.6, 6))
    assert first == again
