"""Cases a second review found: chunked upstreams, disk failure on the first write, large
non-storable segments, a 304 carrying a frozen Age, purge keys, odd Authorization bytes."""

from __future__ import annotations

import asyncio
import errno
import os

import pytest

from edge.cache.sink import TempFileSink
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import (
    EdgeClient,
    FakeClock,
    FillWaiters,
    ScriptedUpstream,
    raw_request,
    settle,
)
from tests.edge.test_freshness import put_live

TS = {"Content-Type": "video/mp2t"}


async def test_a_chunked_upstream_body_arrives_intact(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    body = os.urandom(1_024_000)
    upstream[0].put("/v/c.ts", body, headers=TS, chunked=True)
    first = await edge.get("/v/c.ts")
    assert await first.read() == body
    await settle(edge)
    again = await edge.get("/v/c.ts")
    assert (again.headers["X-Cache"], await again.read()) == ("HIT", body)


async def test_disk_full_on_the_first_write_still_serves_every_waiter(
    edge: EdgeClient,
    upstream: tuple[ScriptedUpstream, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def disk_full(self: TempFileSink, chunk: bytes) -> None:
        self._fail(OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(TempFileSink, "write", disk_full)
    body = os.urandom(300_000)
    gate = asyncio.Event()
    upstream[0].put("/v/full.ts", body, headers=TS, gate=gate)
    waiters = FillWaiters(edge)
    whole = await edge.get("/v/full.ts")
    ranged = asyncio.ensure_future(edge.get("/v/full.ts", headers={"Range": "bytes=0-99"}))
    await waiters.until(lambda: waiters.joins["/v/full.ts"] == 2)  # both wait on the one fill
    gate.set()
    assert await whole.read() == body
    part = await ranged
    assert (part.status, await part.read()) == (206, body[:100])


async def test_a_large_no_store_segment_streams_and_is_not_kept(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    body = os.urandom(17 * 1024 * 1024)  # over the 16 MiB memory cap for a fill
    upstream[0].put("/v/big.ts", body, headers={**TS, "Cache-Control": "no-store"})
    answer = await edge.get("/v/big.ts")
    assert answer.headers["Cache-Control"] == "no-store"
    assert await answer.read() == body
    await settle(edge)
    assert (await edge.get("/v/big.ts")).headers["X-Cache"] == "MISS"


async def test_a_304_with_a_frozen_age_is_not_a_fresh_live_playlist(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    put_live(fake, 1)
    await (await edge.get("/live/g5/index.m3u8")).read()
    fake.objects["/live/g5/index.m3u8"].headers["Age"] = "30"  # its 304s now say 30 s old
    clock.advance(7)
    answer = await edge.get("/live/g5/index.m3u8")
    assert answer.headers["X-Cache"] == "STALE"  # stale-if-error, within 2 TD
    assert int(answer.headers["Age"]) <= 8


async def test_purge_uses_the_configured_key(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    edge = await make_edge(admin_token="t", keep_query=["v"])
    upstream[0].put("/v/a.ts", b"a" * 1000, headers=TS)
    await (await edge.get("/v/a.ts?v=2")).read()
    await settle(edge)
    purged = await edge.post(
        "/_admin/purge", json={"path": "/v/a.ts?v=2"}, headers={"Authorization": "Bearer t"}
    )
    assert await purged.json() == {"purged": 1}


async def test_a_non_utf8_authorization_header_is_401_not_500(make_edge: EdgeFactory) -> None:
    edge = await make_edge(admin_token="t")
    assert edge.port is not None
    status, _ = await raw_request(
        "127.0.0.1", edge.port, "/_admin/purge", "Authorization: Bearer \xff\xfe\r\n", "POST"
    )
    assert status == 401
