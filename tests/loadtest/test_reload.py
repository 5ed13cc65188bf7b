import pytest

from classcast.clock import FakeClock
from loadtest.models.actions import Fetch, Response, Wait
from loadtest.models.session import SessionSettings
from loadtest.models.stb import make_set_top_box
from loadtest.playlist import parse_media
from loadtest.reload import next_reload_at, start_sequence
from tests.loadtest.builders import master_playlist, media_playlist

MASTER = "http://edge.test/live/grade-5/master.m3u8"


@pytest.mark.parametrize(
    ("load_started", "target", "changed", "expected"),
    [
        (0.0, 4.0, True, 4.0),  # changed: one target duration
        (0.0, 4.0, False, 2.0),  # unchanged: half of it
        (10.0, 6.0, True, 16.0),
        (10.0, 6.0, False, 13.0),
        (7.25, 2.0, True, 9.25),  # measured from the start of the previous load
        (7.25, 2.0, False, 8.25),
    ],
)
def test_next_reload_at_follows_rfc8216_6_3_4(
    load_started: float, target: float, changed: bool, expected: float
) -> None:
    assert next_reload_at(load_started, target, changed) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("first", "count", "ended", "expected"),
    [
        (100, 6, False, 103),  # 24 s window: 103 starts 12 s (3 x 4 s) from the end
        (100, 10, False, 107),
        (100, 3, False, 100),  # window shorter than three target durations: the oldest
        (100, 6, True, 100),  # VOD starts at the beginning
    ],
)
def test_start_sequence_three_target_durations_from_the_live_edge(
    first: int, count: int, ended: bool, expected: int
) -> None:
    playlist = parse_media(media_playlist(first, count, ended=ended), "http://x/a/index.m3u8")
    assert start_sequence(playlist) == expected


def ok(started: float, finished: float, body: str | None = None, size: int = 100) -> Response:
    return Response(200, started, finished, size, body)


# Each row: (seconds the load took, did the body change?) -> when the next reload is due,
# relative to the start of that load.
CADENCE = [
    (0.1, False, 2.0),
    (0.3, True, 4.0),
    (1.5, False, 2.0),  # a slow load does not push the schedule back
    (0.0, True, 4.0),
]


def test_set_top_box_reload_cadence_with_a_fake_clock() -> None:
    clock = FakeClock(1000.0)
    viewer = make_set_top_box(MASTER, clock(), "lowest", SessionSettings(start_timeout_s=1e9))
    fetch = viewer.next_action("playlist", clock())
    assert fetch == Fetch("master", MASTER)
    viewer.on_response(fetch, ok(clock(), clock(), master_playlist([("180p", 300_000)])), clock())
    sequence = 50
    body = media_playlist(sequence, 6)
    fetch = viewer.next_action("playlist", clock())
    assert isinstance(fetch, Fetch) and fetch.kind == "playlist"
    assert fetch.url == "http://edge.test/live/grade-5/180p/index.m3u8"
    viewer.on_response(fetch, ok(clock(), clock(), body), clock())
    due = clock() + 4.0
    for took, changed, wait in CADENCE:
        assert viewer.next_action("playlist", clock()) == Wait(due)
        clock.advance(due - clock())
        fetch = viewer.next_action("playlist", clock())
        assert isinstance(fetch, Fetch) and fetch.kind == "playlist"
        started = clock()
        if changed:
            sequence += 1
            body = media_playlist(sequence, 6)
        clock.advance(took)
        viewer.on_response(fetch, ok(started, clock(), body), clock())
        due = started + wait
