"""Live-aware freshness through the real edge app, with the clock moved by the test."""

from __future__ import annotations

import asyncio
from typing import Any

from edge.cache.keys import cache_key
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, FakeClock, ScriptedUpstream, settle

M3U8 = {"Content-Type": "application/vnd.apple.mpegurl"}


def live_playlist(sequence: int, target: int = 4) -> bytes:
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    for n in range(sequence, sequence + 6):
        lines += [f"#EXTINF:{target}.0,", f"seg_{n:05d}.ts"]
    return ("\n".join(lines) + "\n").encode()


def put_live(fake: ScriptedUpstream, sequence: int, **kwargs: Any) -> None:
    headers = {**M3U8, "Cache-Control": "max-age=2", "ETag": f'"v{sequence}"'}
    fake.put("/live/g5/index.m3u8", live_playlist(sequence), headers=headers, **kwargs)


async def test_live_playlist_advances_and_its_age_never_exceeds_the_cap(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    sequence = 100
    put_live(fake, sequence)
    seen = []
    for step in range(80):  # 40 s of viewers polling every half second
        clock.advance(0.5)
        if step % 8 == 0:  # the origin's window slides every 4 s
            sequence += 1
            put_live(fake, sequence)
        response = await edge.get("/live/g5/index.m3u8")
        body = await response.read()
        age = int(response.headers["Age"])
        assert response.status == 200
        assert age <= 6, f"live playlist served at age {age}, past its 1.5 TD cap"
        seen.append(int(body.split(b"MEDIA-SEQUENCE:")[1].split(b"\n")[0]))
        await settle(edge)
    assert seen == sorted(seen)
    assert seen[-1] >= sequence - 1  # it kept up with the origin
    assert fake.hits["/live/g5/index.m3u8"] < 80  # and it did not forward every poll


async def test_stale_while_revalidate_answers_at_once_then_refreshes(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    put_live(fake, 1)
    await (await edge.get("/live/g5/index.m3u8")).read()
    put_live(fake, 2)
    clock.advance(3)  # past the 2 s freshness, inside the 4 s stale window
    stale = await edge.get("/live/g5/index.m3u8")
    assert stale.headers["X-Cache"] == "STALE"
    assert b"MEDIA-SEQUENCE:1\n" in await stale.read()
    await settle(edge)
    fresh = await edge.get("/live/g5/index.m3u8")
    assert fresh.headers["X-Cache"] == "HIT"
    assert b"MEDIA-SEQUENCE:2\n" in await fresh.read()


async def test_expired_object_is_revalidated_with_its_etag(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    edge = await make_edge(segment_ttl=10)
    fake, _ = upstream
    fake.put("/v/seg.ts", b"x" * 5000, headers={"Content-Type": "video/mp2t", "ETag": '"e1"'})
    await (await edge.get("/v/seg.ts")).read()
    clock.advance(11)
    again = await edge.get("/v/seg.ts")
    assert again.headers["X-Cache"] == "REVALIDATED"
    assert again.headers["Age"] == "0"
    assert await again.read() == b"x" * 5000
    assert fake.seen_headers[-1]["If-None-Match"] == '"e1"'
    assert (await edge.get("/v/seg.ts")).headers["X-Cache"] == "HIT"


async def test_stale_if_error_then_fail_so_players_switch(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    put_live(fake, 1)
    await (await edge.get("/live/g5/index.m3u8")).read()
    fake.put("/live/g5/index.m3u8", b"origin down", status=503, headers={"Retry-After": "1"})
    clock.advance(7)  # expired (past 1.5 TD) but inside the 2 TD error window
    during = await edge.get("/live/g5/index.m3u8")
    assert during.headers["X-Cache"] == "STALE"
    assert b"MEDIA-SEQUENCE:1\n" in await during.read()
    clock.advance(1.5)  # 8.5 s: past two target durations
    after = await edge.get("/live/g5/index.m3u8")
    assert after.status == 503


async def test_404_is_remembered_for_one_second_only(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    first = await edge.get("/live/g5/seg_00007.ts")
    assert (first.status, first.headers["X-Cache"]) == (404, "MISS")
    second = await edge.get("/live/g5/seg_00007.ts")
    assert (second.status, second.headers["X-Cache"]) == (404, "HIT")
    fake.put("/live/g5/seg_00007.ts", b"now here", headers={"Content-Type": "video/mp2t"})
    clock.advance(1.0)
    third = await edge.get("/live/g5/seg_00007.ts")
    assert third.status == 200
    assert await third.read() == b"now here"


async def test_no_store_and_set_cookie_are_never_cached(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/p/a.m3u8", b"#EXTM3U\n", headers={**M3U8, "Cache-Control": "no-store"})
    fake.put("/p/b.ts", b"cookie", headers={"Content-Type": "video/mp2t", "Set-Cookie": "s=1"})
    for path in ("/p/a.m3u8", "/p/a.m3u8", "/p/b.ts", "/p/b.ts"):
        response = await edge.get(path)
        assert response.headers["X-Cache"] == "MISS"
        assert "Set-Cookie" not in response.headers
        await settle(edge)
    assert fake.hits["/p/a.m3u8"] == fake.hits["/p/b.ts"] == 2


async def test_prefetch_makes_the_first_viewer_of_a_new_segment_hit(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    edge = await make_edge(prefetch_segments=2)
    fake, _ = upstream
    put_live(fake, 10)
    for n in range(10, 16):
        fake.put(
            f"/live/g5/seg_{n:05d}.ts", bytes([n]) * 1000, headers={"Content-Type": "video/mp2t"}
        )
    await (await edge.get("/live/g5/index.m3u8?token=t")).read()
    await settle(edge)
    assert fake.hits["/live/g5/seg_00015.ts"] == fake.hits["/live/g5/seg_00014.ts"] == 1
    assert fake.hits["/live/g5/seg_00013.ts"] == 0
    newest = await edge.get("/live/g5/seg_00015.ts")
    assert newest.headers["X-Cache"] == "HIT"
    assert await newest.read() == bytes([15]) * 1000


async def test_a_304_for_a_copy_evicted_meanwhile_still_answers_the_whole_body(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    edge = await make_edge(ram_bytes=3500, ram_object_max_bytes=2000)  # room for two
    fake, _ = upstream
    body = b"#EXTM3U\n" + b"#" * 992
    vod = {**M3U8, "Cache-Control": "max-age=1", "ETag": '"a1"'}
    fake.put("/p/a.m3u8", body + b"\n#EXT-X-ENDLIST\n", headers=vod)
    await (await edge.get("/p/a.m3u8")).read()
    clock.advance(30)  # past max-age and stale-while-revalidate... of a VOD playlist: one day
    fake.objects["/p/a.m3u8"].delay = 0.3  # the revalidation (a 304) takes a while
    for name in ("b", "c"):
        fake.put(f"/p/{name}.m3u8", body + b"\n#EXT-X-ENDLIST\n", headers=M3U8)
    edge_app_cache = edge.cache
    stored = edge_app_cache.lookup(cache_key("/p/a.m3u8"))
    assert stored is not None
    edge_app_cache.refresh(cache_key("/p/a.m3u8"), stored)  # revalidation in flight
    for name in ("b", "c"):  # ...while two other playlists push a out of the RAM tier
        await (await edge.get(f"/p/{name}.m3u8")).read()
    assert edge_app_cache.lookup(cache_key("/p/a.m3u8")) is None
    answer = await edge.get("/p/a.m3u8")
    assert answer.status == 200
    assert await answer.read() == body + b"\n#EXT-X-ENDLIST\n"


async def test_a_remembered_404_is_asked_again_without_validators(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    await (await edge.get("/v/gone.ts")).read()
    clock.advance(2)
    await (await edge.get("/v/gone.ts")).read()
    assert fake.hits["/v/gone.ts"] == 2
    assert "If-None-Match" not in fake.seen_headers[-1]


async def test_a_streamed_miss_carries_the_objects_own_cache_policy(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put(
        "/v/s.ts",
        b"s" * 100_000,
        headers={"Content-Type": "video/mp2t", "Cache-Control": "max-age=60"},
        gate=gate,
    )
    streaming = await edge.get("/v/s.ts")
    assert streaming.headers["Cache-Control"] == "public, max-age=60"
    gate.set()
    await streaming.read()
    private = {"Content-Type": "video/mp2t", "Cache-Control": "private, max-age=600"}
    fake.put("/v/p.ts", b"p" * 100_000, headers=private)
    answer = await edge.get("/v/p.ts")
    assert answer.headers["Cache-Control"] == "no-store"
    assert await answer.read() == b"p" * 100_000


async def test_a_trickling_playlist_fill_gives_up_and_serves_stale(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    edge = await make_edge(playlist_fill_timeout=0.3)
    fake, _ = upstream
    put_live(fake, 1)
    await (await edge.get("/live/g5/index.m3u8")).read()
    clock.advance(7)  # expired; inside the 2 TD error window
    put_live(fake, 2, gate=asyncio.Event())  # the origin sends half, then nothing
    answer = await edge.get("/live/g5/index.m3u8")
    assert answer.headers["X-Cache"] == "STALE"
    assert b"MEDIA-SEQUENCE:1\n" in await answer.read()
    clock.advance(2)  # past two target durations: no stale copy may be served
    failed = await edge.get("/live/g5/index.m3u8")
    assert failed.status == 503  # issue 9: a live playlist past its cap, with when to come back
    assert failed.headers["Retry-After"] == "4"
    assert "timed out" in await failed.text()


async def test_a_live_playlist_already_past_its_cap_upstream_is_not_passed_on(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    put_live(fake, 1)
    fake.objects["/live/g5/index.m3u8"].headers["Age"] = "30"  # a frozen copy from a cache
    answer = await edge.get("/live/g5/index.m3u8")
    assert answer.status == 502
    assert "30 s old" in await answer.text()
