"""The hot tier (issue 21): disk entries' bodies held in RAM and answered with one write.

A real edge on loopback before a scripted upstream. Which path answered is told by the edge's
own counters: bytes sent by sendfile (`zero_copy_bytes`) and hits of the hot tier."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from classcast.errors import ConfigError
from edge.__main__ import flags, parse_args
from edge.cache.hot import HotTier
from edge.config import build, load
from tests.edge.fakes import EdgeClient, EdgeClients, FakeClock, ScriptedUpstream

SEGMENT = os.urandom(300_000)  # larger than a socket buffer: sendfile would leave a rest
TS = {
    "Content-Type": "video/mp2t",
    "ETag": '"seg-1"',
    "Last-Modified": "Sat, 01 Jan 2022 00:00:00 GMT",
}
PLAYLIST = "application/vnd.apple.mpegurl"
Start = Callable[..., Awaitable[EdgeClient]]


@pytest.fixture
def monotonic() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def start(
    upstream: tuple[ScriptedUpstream, str], tmp_path: Path, clock: FakeClock, monotonic: FakeClock
) -> AsyncIterator[Start]:
    clients = EdgeClients()

    async def started(**settings: Any) -> EdgeClient:
        config = build(
            {
                "upstreams": [upstream[1]],
                "cache_dir": str(tmp_path / "cache"),
                "retries": 0,
                "prefetch_segments": 0,
                "node_id": "classcast-edge",
                "port": 0,
                "access_log": False,
                **settings,
            }
        )
        return watch_promotions(await clients.start(config, clock=clock, monotonic=monotonic))

    yield started
    await clients.close()


def hot_of(edge: EdgeClient) -> HotTier:
    assert edge.cache.hot is not None
    return edge.cache.hot


PROMOTIONS: dict[int, asyncio.Event] = {}  # by id of the hot tier: set on each promotion


def watch_promotions(edge: EdgeClient) -> EdgeClient:
    hot = hot_of(edge)
    promoted = PROMOTIONS[id(hot)] = asyncio.Event()
    hot.on_promoted = lambda key: promoted.set()
    return edge


async def promoted(edge: EdgeClient, path: str) -> None:
    """Wait until the hot tier has read `path`'s object in (it reads in a worker thread)."""
    hot = hot_of(edge)
    changed = PROMOTIONS[id(hot)]
    async with asyncio.timeout(5):
        while not any(key.endswith(path) for key in hot.held_keys()):
            changed.clear()
            await changed.wait()


async def get(edge: EdgeClient, path: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    async with await edge.get(path, headers=headers) as response:
        return response.status, await response.read(), CIMultiDict(response.headers)


async def test_an_object_hit_twice_is_answered_from_memory(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/seg1.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=2)
    hot = hot_of(edge)
    assert (await get(edge, "/vod/a/seg1.ts"))[2]["X-Cache"] == "MISS"
    assert (await get(edge, "/vod/a/seg1.ts"))[1] == SEGMENT  # hit 1: sendfile, counted
    assert len(hot) == 0 and edge.sends.zero_copy_bytes > 0
    await get(edge, "/vod/a/seg1.ts")  # hit 2: promotes
    await promoted(edge, "/vod/a/seg1.ts")
    sent_by_sendfile = edge.sends.zero_copy_bytes
    status, body, headers = await get(edge, "/vod/a/seg1.ts")
    assert (status, body, headers["X-Cache"]) == (200, SEGMENT, "HIT")
    print(headers)
    assert edge.sends.zero_copy_bytes == sent_by_sendfile  # not a byte by sendfile
    assert hot.counters.hits == 1 and hot.counters.promotions == 1
    assert hot.bytes_used == len(SEGMENT)
    assert upstream[0].hits["/vod/a/seg1.ts"] == 1  # promotion reads the disk copy


async def test_a_segment_hit_once_stays_on_the_sendfile_path(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """The long tail: an object asked once is never read into memory."""
    for n in range(5):
        upstream[0].put(f"/vod/a/tail{n}.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=2)
    for n in range(5):
        await get(edge, f"/vod/a/tail{n}.ts")  # miss
        assert (await get(edge, f"/vod/a/tail{n}.ts"))[1] == SEGMENT  # one hit each
    assert len(hot_of(edge)) == 0 and hot_of(edge).counters.promotions == 0
    assert edge.sends.zero_copy_bytes >= 5 * len(SEGMENT)


async def test_live_window_segments_are_promoted_on_their_first_hit(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n"
    playlist += b"".join(b"#EXTINF:2.0,\nseg%d.ts\n" % n for n in range(1, 7))
    upstream[0].put(
        "/live/c/index.m3u8", playlist, headers={"Content-Type": "application/vnd.apple.mpegurl"}
    )
    for n in range(1, 7):
        upstream[0].put(f"/live/c/seg{n}.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=5, hot_live_segments=2)
    assert (await get(edge, "/live/c/index.m3u8"))[0] == 200
    for n in (1, 6):  # seg6 is in the live window of 2, seg1 is not
        await get(edge, f"/live/c/seg{n}.ts")
        await get(edge, f"/live/c/seg{n}.ts")
    await promoted(edge, "/live/c/seg6.ts")
    assert [k.rpartition("/")[2] for k in hot_of(edge).held_keys()] == ["seg6.ts"]


def live_playlist(names: list[str]) -> bytes:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n"
    return playlist + b"".join(b"#EXTINF:2.0,\n%s\n" % n.encode() for n in names)


async def test_the_budget_holds_and_the_least_recently_hit_goes_first(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """Live segments are always admitted: the least recently hit copy makes room."""
    names = [f"b{n}.ts" for n in range(3)]
    playlist = live_playlist(names)
    upstream[0].put("/live/b/index.m3u8", playlist, headers={"Content-Type": PLAYLIST})
    for name in names:
        upstream[0].put(f"/live/b/{name}", SEGMENT, headers=TS)
    edge = await start(hot_live_segments=3, hot_bytes=int(2.5 * len(SEGMENT)))
    hot = hot_of(edge)
    assert (await get(edge, "/live/b/index.m3u8"))[0] == 200
    for name in names:
        await get(edge, f"/live/b/{name}")  # miss
        await get(edge, f"/live/b/{name}")  # first hit promotes
        await promoted(edge, f"/live/b/{name}")
        assert hot.bytes_used <= hot.budget
    assert [k.rpartition("/")[2] for k in hot.held_keys()] == ["b1.ts", "b2.ts"]
    assert hot.counters.evictions == 1
    # the evicted one is still served, from disk
    sendfile_before = edge.sends.zero_copy_bytes
    assert (await get(edge, "/live/b/b0.ts"))[1] == SEGMENT
    assert edge.sends.zero_copy_bytes == sendfile_before + len(SEGMENT)


async def test_a_long_tail_larger_than_the_budget_does_not_churn_it(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """Four objects asked in turn, room for two: the two read in first stay, the others are
    refused (hit no more often than those held) and served by sendfile, not read in and out."""
    paths = [f"/vod/a/t{n}.ts" for n in range(4)]
    for path in paths:
        upstream[0].put(path, SEGMENT, headers=TS)
    edge = await start(hot_min_hits=2, hot_bytes=int(2.5 * len(SEGMENT)))
    hot = hot_of(edge)
    for turn in range(5):
        for path in paths:
            assert (await get(edge, path))[1] == SEGMENT
            if turn == 2 and path in paths[:2]:  # its second hit
                await promoted(edge, path)
    assert sorted(k.rpartition("/")[2] for k in hot.held_keys()) == ["t0.ts", "t1.ts"]
    assert hot.counters.promotions == 2 and hot.counters.evictions == 0
    assert hot.counters.refused >= 4
    assert hot.counters.hits == 2 * 2  # turns 3 and 4, the two held


async def test_an_object_larger_than_the_budget_is_never_promoted(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/big.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1, hot_bytes=len(SEGMENT) - 1)
    for _ in range(3):
        assert (await get(edge, "/vod/a/big.ts"))[1] == SEGMENT
    assert len(hot_of(edge)) == 0


async def test_a_copy_not_hit_for_cool_s_is_demoted(
    start: Start, upstream: tuple[ScriptedUpstream, str], monotonic: FakeClock
) -> None:
    upstream[0].put("/vod/a/c.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1, hot_cool_s=10.0)
    hot = hot_of(edge)
    await get(edge, "/vod/a/c.ts")
    await get(edge, "/vod/a/c.ts")
    await promoted(edge, "/vod/a/c.ts")
    monotonic.advance(9.0)
    await get(edge, "/vod/a/c.ts")  # a hit keeps it warm
    monotonic.advance(9.0)
    assert hot.sweep() == 0
    monotonic.advance(1.5)
    assert hot.sweep() == 1 and len(hot) == 0 and hot.bytes_used == 0
    assert hot.counters.demotions == 1
    sendfile_before = edge.sends.zero_copy_bytes
    assert (await get(edge, "/vod/a/c.ts"))[1] == SEGMENT  # back on the sendfile path
    assert edge.sends.zero_copy_bytes == sendfile_before + len(SEGMENT)


async def test_a_purge_removes_the_hot_copy(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/p.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1, admin_token="t" * 20)
    await get(edge, "/vod/a/p.ts")
    await get(edge, "/vod/a/p.ts")
    await promoted(edge, "/vod/a/p.ts")
    new = os.urandom(len(SEGMENT))
    upstream[0].put("/vod/a/p.ts", new, headers={**TS, "ETag": '"seg-2"'})
    auth = {"Authorization": "Bearer " + "t" * 20}
    order = {"path": "/vod/a/p.ts"}
    async with await edge.post("/_admin/purge", json=order, headers=auth) as response:
        assert response.status == 200, await response.text()
    assert len(hot_of(edge)) == 0 and hot_of(edge).bytes_used == 0
    status, body, headers = await get(edge, "/vod/a/p.ts")
    assert (status, body, headers["X-Cache"]) == (200, new, "MISS")


async def test_a_new_version_is_never_answered_from_the_old_copy(
    start: Start, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    upstream[0].put("/vod/a/v.ts", SEGMENT, headers={**TS, "Cache-Control": "max-age=5"})
    edge = await start(hot_min_hits=1)
    await get(edge, "/vod/a/v.ts")
    await get(edge, "/vod/a/v.ts")
    await promoted(edge, "/vod/a/v.ts")
    new = os.urandom(len(SEGMENT))
    upstream[0].put("/vod/a/v.ts", new, headers={**TS, "ETag": '"seg-2"'})
    clock.advance(10)  # stale: refetched, a new file replaces the old
    assert (await get(edge, "/vod/a/v.ts"))[1] == new
    assert (await get(edge, "/vod/a/v.ts"))[1] == new
    assert all(copy_path_matches(edge, key) for key in hot_of(edge).held_keys())


def copy_path_matches(edge: EdgeClient, key: str) -> bool:
    entry = edge.cache.disk.get(key)
    copy = hot_of(edge)._copies[key]  # its version against the index's
    return entry is not None and entry.path == copy.path


async def test_range_and_conditionals_are_answered_from_memory(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/r.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1)
    await get(edge, "/vod/a/r.ts")
    await get(edge, "/vod/a/r.ts")
    await promoted(edge, "/vod/a/r.ts")
    hot = hot_of(edge)
    sendfile_before, hits_before = edge.sends.zero_copy_bytes, hot.counters.hits
    status, body, headers = await get(edge, "/vod/a/r.ts", Range="bytes=100-199999")
    assert (status, body) == (206, SEGMENT[100:200000])
    assert headers["Content-Range"] == f"bytes 100-199999/{len(SEGMENT)}"
    status, body, _ = await get(edge, "/vod/a/r.ts", Range="bytes=-10")
    assert (status, body) == (206, SEGMENT[-10:])
    assert hot.counters.hits == hits_before + 2
    status, body, headers = await get(edge, "/vod/a/r.ts", **{"If-None-Match": '"seg-1"'})
    assert (status, body, headers["ETag"]) == (304, b"", '"seg-1"')
    modified = {"If-Modified-Since": "Sun, 02 Jan 2022 00:00:00 GMT"}
    assert (await get(edge, "/vod/a/r.ts", **modified))[0] == 304
    status, _, _ = await get(edge, "/vod/a/r.ts", Range=f"bytes={len(SEGMENT)}-")
    assert status == 416
    assert edge.sends.zero_copy_bytes == sendfile_before  # nothing went by sendfile


async def test_head_and_whole_answers_from_memory_say_the_same(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/h.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1)
    await get(edge, "/vod/a/h.ts")
    _, _, from_disk = await get(edge, "/vod/a/h.ts")
    await promoted(edge, "/vod/a/h.ts")
    _, _, from_memory = await get(edge, "/vod/a/h.ts")
    async with await edge.head("/vod/a/h.ts") as response:
        assert response.headers["Content-Length"] == str(len(SEGMENT))
    drop = {"Date", "Age"}
    assert {k: v for k, v in from_memory.items() if k not in drop} == {
        k: v for k, v in from_disk.items() if k not in drop
    }


async def test_off_with_a_zero_budget(start: Start, upstream: tuple[ScriptedUpstream, str]) -> None:
    upstream[0].put("/vod/a/o.ts", SEGMENT, headers=TS)
    edge = await start(hot_min_hits=1, hot_bytes=0)
    for _ in range(4):
        assert (await get(edge, "/vod/a/o.ts"))[1] == SEGMENT
    assert len(hot_of(edge)) == 0 and hot_of(edge).counters.promotions == 0


def test_the_settings_come_from_file_environment_and_flags(tmp_path: Path) -> None:
    toml = tmp_path / "edge.toml"
    toml.write_text('[cache]\nupstreams = ["http://127.0.0.1:1"]\nhot_bytes = "64MiB"\n')
    assert load(toml, {}, {}).hot_bytes == 64 * 1024**2
    environ = {"CLASSCAST_EDGE_HOT_BYTES": "off", "CLASSCAST_EDGE_HOT_MIN_HITS": "3"}
    from_env = load(toml, {}, environ)
    assert (from_env.hot_bytes, from_env.hot_min_hits) == (0, 3)
    args = parse_args(["serve", "--hot", "1GiB", "--config", str(toml)])
    assert load(toml, flags(args), environ).hot_bytes == 1024**3


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"hot_bytes": "lots"}, "hot_bytes: expected a size"),
        ({"hot_min_hits": 0}, "hot_min_hits: at least 1"),
        ({"hot_cool_s": 0}, "hot_cool_s: must be positive"),
        ({"hot_live_segments": -1}, "hot_live_segments: must not be negative"),
    ],
)
def test_a_bad_setting_stops_with_one_line(setting: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build({"upstreams": ["http://127.0.0.1:1"], **setting})
