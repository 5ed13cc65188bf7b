"""HTTP semantics on every kind of object, against the real app in process."""

from __future__ import annotations

import m3u8
import pytest

from tests.origin.conftest import Client

from .conftest import CONTENT, EPOCH, FakeClock

SEGMENT = "/vod/math-fractions/360p/seg_00000.ts"
SEGMENT_BYTES = (CONTENT / "math-fractions/360p/seg_00000.ts").read_bytes()


@pytest.mark.parametrize(
    ("path", "cache_control", "content_type"),
    [
        ("/live/grade-10/360p/index.m3u8", "public, max-age=2", "application/vnd.apple.mpegurl"),
        ("/live/grade-5/master.m3u8", "public, max-age=10", "application/vnd.apple.mpegurl"),
        (
            "/vod/math-fractions/master.m3u8",
            "public, max-age=3600",
            "application/vnd.apple.mpegurl",
        ),
        (
            "/vod/math-fractions/180p/index.m3u8",
            "public, max-age=3600",
            "application/vnd.apple.mpegurl",
        ),
        (SEGMENT, "public, max-age=31536000, immutable", "video/mp2t"),
        ("/api/lessons", "public, max-age=2", "application/json"),
    ],
)
async def test_cache_control_and_content_type_per_kind(
    client: Client, path: str, cache_control: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Cache-Control"] == cache_control
    assert response.headers["Content-Type"] == content_type
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_not_found_is_short_lived(client: Client) -> None:
    response = await client.get("/vod/math-fractions/360p/seg_09999.ts")
    assert response.status == 404
    assert response.headers["Cache-Control"] == "public, max-age=1"
    assert await response.text() == "404: no file '360p/seg_09999.ts' in lesson 'math-fractions'\n"


async def test_segment_bytes_and_validators(client: Client) -> None:
    response = await client.get(SEGMENT)
    assert await response.read() == SEGMENT_BYTES
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Last-Modified" in response.headers


async def test_head_has_headers_and_no_body(client: Client) -> None:
    response = await client.head(SEGMENT)
    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(SEGMENT_BYTES))
    assert await response.read() == b""


@pytest.mark.parametrize(
    ("header", "status", "content_range", "piece"),
    [
        ("bytes=0-99", 206, "bytes 0-99/{n}", slice(0, 100)),
        ("bytes=100-", 206, "bytes 100-{last}/{n}", slice(100, None)),
        ("bytes=-188", 206, "bytes {tail}-{last}/{n}", slice(-188, None)),
        ("bytes=0-99999999", 206, "bytes 0-{last}/{n}", slice(0, None)),
        ("bytes=99999999-", 416, "bytes */{n}", None),
        ("bytes=abc", 400, "bytes */{n}", None),
        ("bytes=5-1", 400, "bytes */{n}", None),
        ("items=0-1", 200, None, slice(0, None)),
        ("bytes=0-1,5-6", 200, None, slice(0, None)),
    ],
)
async def test_ranges(
    client: Client, header: str, status: int, content_range: str | None, piece: slice | None
) -> None:
    n = len(SEGMENT_BYTES)
    response = await client.get(SEGMENT, headers={"Range": header})
    assert response.status == status
    expected = content_range and content_range.format(n=n, last=n - 1, tail=n - 188)
    assert response.headers.get("Content-Range") == expected
    body = await response.read()
    if piece is not None:
        assert body == SEGMENT_BYTES[piece]
    else:
        assert body.startswith(f"{status}: ".encode())


async def test_range_on_a_generated_playlist(client: Client) -> None:
    full = await (await client.get("/live/grade-5/360p/index.m3u8")).read()
    response = await client.get("/live/grade-5/360p/index.m3u8", headers={"Range": "bytes=0-6"})
    assert response.status == 206
    assert await response.read() == full[:7] == b"#EXTM3U"


async def test_malformed_range_says_why(client: Client) -> None:
    # the same answer as the edge's (classcast/http_rules.py): malformed is 400, a miss 416
    response = await client.get(SEGMENT, headers={"Range": "bytes=abc"})
    assert await response.text() == "400: malformed Range header: 'bytes=abc'\n"
    huge = await client.get(SEGMENT, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert huge.status == 416  # was a 500: int() of 5,000 digits


@pytest.mark.parametrize(
    "path", [SEGMENT, "/live/grade-5/180p/index.m3u8", "/vod/math-fractions/master.m3u8"]
)
async def test_conditional_requests_give_304(client: Client, path: str) -> None:
    first = await client.get(path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert await again.read() == b""
    assert (await client.get(path, headers={"If-Modified-Since": modified})).status == 304
    assert (await client.get(path, headers={"If-None-Match": '"other"'})).status == 200
    assert (await client.get(path, headers={"If-Match": '"other"'})).status == 412


async def test_if_range_with_a_stale_etag_sends_everything(client: Client) -> None:
    response = await client.get(SEGMENT, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert response.status == 200
    assert len(await response.read()) == len(SEGMENT_BYTES)


async def test_cors_preflight(client: Client) -> None:
    response = await client.options(
        SEGMENT,
        headers={
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "range"
    exposed = (await client.get(SEGMENT)).headers["Access-Control-Expose-Headers"]
    assert "Content-Range" in exposed and "ETag" in exposed


async def test_live_playlist_is_a_function_of_the_clock(client: Client, clock: FakeClock) -> None:
    clock.now = (
        EPOCH + 130.0
    )  # grade-10 (legacy): 32 segments done: lesson 1 = 0..9, lesson 2 = 10..19, ...
    response = await client.get("/live/grade-10/360p/index.m3u8")
    playlist = m3u8.loads(await response.text())
    assert playlist.media_sequence == 26
    assert playlist.discontinuity_sequence == 2
    assert playlist.target_duration == 4
    assert not playlist.is_endlist
    assert [s.uri for s in playlist.segments][-1] == "/vod/math-fractions/360p/seg_00001.ts"
    assert response.headers["Last-Modified"] == "Mon, 01 Sep 2025 08:02:08 GMT"
    same = await client.get("/live/grade-10/360p/index.m3u8")
    assert same.headers["ETag"] == response.headers["ETag"]
    clock.now += 4
    later = await client.get("/live/grade-10/360p/index.m3u8")
    assert m3u8.loads(await later.text()).media_sequence == 27


async def test_live_segment_uris_are_vod_objects(client: Client) -> None:
    playlist = m3u8.loads(await (await client.get("/live/grade-8/180p/index.m3u8")).text())
    for segment in playlist.segments:
        if segment.uri:  # grade-8 is low-latency: the growing segment lists parts only
            assert (await client.head(segment.uri)).status == 200


async def test_live_master_lists_shared_renditions(client: Client) -> None:
    master = m3u8.loads(await (await client.get("/live/grade-10/master.m3u8")).text())
    assert [p.uri for p in master.playlists] == ["360p/index.m3u8", "180p/index.m3u8"]
    assert master.playlists[1].stream_info.resolution == (320, 180)


async def test_before_the_epoch_a_channel_is_not_started(client: Client, clock: FakeClock) -> None:
    clock.now = EPOCH - 60
    response = await client.get("/live/grade-5/360p/index.m3u8")
    assert response.status == 503
    assert await response.text() == "503: channel has not started yet\n"


async def test_catalog(client: Client, clock: FakeClock) -> None:
    lessons = (await (await client.get("/api/lessons")).json())["lessons"]
    assert [lesson["id"] for lesson in lessons] == [
        "math-fractions",
        "reading-stories",
        "science-water-cycle",
    ]
    math = lessons[0]
    assert math["title"] == "Math: Fractions"
    assert math["duration"] == 40.0
    assert math["url"] == "/vod/math-fractions/master.m3u8"
    assert [(r["name"], r["resolution"]) for r in math["renditions"]] == [
        ("360p", "640x360"),
        ("180p", "320x180"),
    ]
    assert math["renditions"][1]["bandwidth"] <= 300_000
    assert (await (await client.get("/api/lessons/math-fractions")).json()) == math
    clock.now = EPOCH + 50  # grade-5 plays math (0-40 s) then science
    channels = (await (await client.get("/api/channels")).json())["channels"]
    grade5 = next(c for c in channels if c["id"] == "grade-5")
    assert grade5["url"] == "/live/grade-5/master.m3u8"
    assert grade5["now_playing"]["lesson"] == "science-water-cycle"


async def test_stats_count_requests_by_path(client: Client) -> None:
    await client.post("/_stats/reset")
    await client.get(SEGMENT)
    await client.get(SEGMENT + "?token=1")
    await client.head(SEGMENT)
    document = await (await client.get("/_stats")).json()
    assert document["requests"][SEGMENT] == 3
    reset = await (await client.post("/_stats/reset")).json()
    assert reset == {"requests": {}, "total": 0}
