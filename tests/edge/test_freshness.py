"""Live-aware freshness through the real edge app, with the clock moved by the test."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import FakeClock, ScriptedUpstream, settle

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
    edge: TestClient[Any, Any], upstream: tuple[ScriptedUpstream, str], clock: FakeClock
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
    edge: TestClient[Any, Any], upstream: tuple[ScriptedUpstream, str], clock: FakeClock
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
    edge: TestClient[Any, Any], upstream: tuple[ScriptedUpstream, str], clock: FakeClock
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
    edge: TestClient[Any, Any], upstream: tuple[ScriptedUpstream, str], clock: FakeClock
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
    edge: TestClient[Any, Any], upstream: tuple[ScriptedUpstream, str]
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
