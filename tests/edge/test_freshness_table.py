import pytest

from edge.cache.freshness import (
    DAY,
    NO_STORE,
    Freshness,
    freshness,
    judge,
    may_serve_on_error,
    parse_cache_control,
    should_refresh_ahead,
)
from edge.hls import is_m3u8, playlist_kind

LIVE = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:10\n#EXTINF:4.0,\nseg.ts\n"
VOD = LIVE + b"#EXT-X-ENDLIST\n"
MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n"


def test_cache_control_parsing() -> None:
    cc = parse_cache_control('public, max-age=2, s-maxage="5", stale-while-revalidate=3, no-cache')
    assert (cc.max_age, cc.s_maxage, cc.stale_while_revalidate, cc.no_cache) == (2, 5, 3, True)
    assert cc.lifetime == 5
    assert parse_cache_control("max-age=abc, max-age=-1").max_age == 0.0  # invalid: stale
    assert parse_cache_control("").lifetime is None


@pytest.mark.parametrize(
    ("body", "kind", "target"),
    [
        (LIVE, "live", 4.0),
        (VOD, "vod", 4.0),
        (MASTER, "master", None),
        (b"#EXTM3U\n", "live", None),
    ],
)
def test_playlist_kind(body: bytes, kind: str, target: float | None) -> None:
    assert playlist_kind(body) == (kind, target)


# The DESIGN freshness table, row by row.
@pytest.mark.parametrize(
    ("kind", "status", "cc", "playlist", "td", "expected"),
    [
        # live media playlist: min(origin max-age, TD/2); swr <= 1 TD; served age <= 2 TD on error
        ("playlist", 200, "", "live", 4.0, Freshness(2.0, 4.0, 6.0)),
        ("playlist", 200, "max-age=1", "live", 4.0, Freshness(1.0, 4.0, 7.0)),
        ("playlist", 200, "max-age=60", "live", 4.0, Freshness(2.0, 4.0, 6.0)),
        (
            "playlist",
            200,
            "max-age=60, stale-while-revalidate=600, stale-if-error=600",
            "live",
            6.0,
            Freshness(3.0, 6.0, 9.0),
        ),
        (
            "playlist",
            200,
            "max-age=1, stale-while-revalidate=1",
            "live",
            4.0,
            Freshness(1.0, 1.0, 7.0),
        ),
        ("playlist", 200, "max-age=1, stale-if-error=2", "live", 4.0, Freshness(1.0, 4.0, 2.0)),
        # VOD media playlist: origin max-age, else hours; long stale
        ("playlist", 200, "", "vod", 4.0, Freshness(21600.0, DAY, DAY)),
        ("playlist", 200, "max-age=3600", "vod", 4.0, Freshness(3600.0, DAY, DAY)),
        # master: origin max-age, else short
        ("playlist", 200, "", "master", None, Freshness(10.0, DAY, DAY)),
        # s-maxage: the origin forbids serving it stale (RFC 9111 5.2.2.10), HLS policy or not
        ("playlist", 200, "s-maxage=30, max-age=5", "master", None, Freshness(30.0)),
        # segments: immutable by name, a day unless the origin says
        ("segment", 200, "", None, None, Freshness(DAY, 0.0, DAY)),
        (
            "segment",
            200,
            "max-age=31536000, immutable",
            None,
            None,
            Freshness(31536000.0, 0.0, DAY),
        ),
        ("init", 200, "", None, None, Freshness(DAY, 0.0, DAY)),
        # 404/410: one second at most
        ("segment", 404, "", None, None, Freshness(1.0)),
        ("segment", 404, "max-age=600", None, None, Freshness(1.0)),
        ("playlist", 410, "max-age=0", None, None, Freshness(0.0)),
        # never cached
        ("segment", 200, "no-store", None, None, NO_STORE),
        ("segment", 200, "private, max-age=60", None, None, NO_STORE),
        ("segment", 500, "max-age=60", None, None, NO_STORE),
        ("segment", 206, "", None, None, NO_STORE),
        # no-cache: stored but always revalidated
        ("segment", 200, "no-cache", None, None, Freshness(0.0)),
    ],
)
def test_freshness_table(kind, status, cc, playlist, td, expected) -> None:  # type: ignore[no-untyped-def]
    got = freshness(kind, status, parse_cache_control(cc), playlist=playlist, target_duration=td)
    assert got == expected


def test_set_cookie_is_never_stored() -> None:
    assert freshness("segment", 200, parse_cache_control(""), sets_cookie=True) == NO_STORE


@pytest.mark.parametrize(
    ("age", "verdict"),
    [(0.0, "fresh"), (1.99, "fresh"), (2.0, "stale"), (5.99, "stale"), (6.0, "expired")],
)
def test_live_playlist_is_never_served_past_its_cap(age: float, verdict: str) -> None:
    live = freshness("playlist", 200, parse_cache_control(""), playlist="live", target_duration=4.0)
    assert judge(age, live) == verdict


def test_stale_if_error_window() -> None:
    live = freshness("playlist", 200, parse_cache_control(""), playlist="live", target_duration=4.0)
    assert may_serve_on_error(7.9, live)
    assert not may_serve_on_error(8.0, live)  # two target durations: fail, so players switch
    assert not may_serve_on_error(0.5, Freshness(0.0))


def test_refresh_ahead() -> None:
    live = Freshness(2.0, 4.0, 8.0)
    assert not should_refresh_ahead(1.0, live, margin=0.5)
    assert should_refresh_ahead(1.6, live, margin=0.5)
    assert not should_refresh_ahead(5.0, Freshness(0.0), margin=0.5)


@pytest.mark.parametrize(
    ("header", "max_age"),
    [
        # RFC 9111 4.2.1: an invalid value makes the response stale
        ("max-age=inf", 0.0),
        ("max-age=1e400", 0.0),
        ("max-age=nan", 0.0),
        ("max-age=-5", 0.0),
        ("max-age=2.5", 0.0),
        ("max-age=²", 0.0),
        ("max-age=99999999999999999999", 2.0**31),
        ('max-age="60"', 60.0),
    ],
)
def test_only_delta_seconds_are_believed(header: str, max_age: float) -> None:
    assert parse_cache_control(header).max_age == max_age


@pytest.mark.parametrize(
    ("body", "is_playlist"),
    [
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n", True),
        (b"\xef\xbb\xbf#EXTM3U\r\n", True),
        (b"\n  #EXTM3U\n", True),
        (b"<html><body>502</body></html>", False),
        (b"", False),
        (b"#EXT-X-TARGETDURATION:4\n#EXTM3U\n", False),
        (b"\x00\xff", False),
    ],
)
def test_only_a_body_that_starts_with_extm3u_is_a_playlist(body: bytes, is_playlist: bool) -> None:
    assert is_m3u8(body) is is_playlist
