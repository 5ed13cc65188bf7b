"""Single-flight fills through the real edge app against a scripted upstream on loopback."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from edge.cache.keys import cache_key
from edge.http.messages import Answer, FileAnswer, Request
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, FillWaiters, ScriptedUpstream, settle

SEGMENT = os.urandom(2_000_000)
TS = {"Content-Type": "video/mp2t", "Cache-Control": "max-age=3600", "ETag": '"seg1"'}


async def test_miss_then_hit_with_identical_bytes(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/seg1.ts", SEGMENT, headers=TS)
    first = await edge.get("/v/seg1.ts")
    assert (first.status, first.headers["X-Cache"]) == (200, "MISS")
    assert await first.read() == SEGMENT
    second = await edge.get("/v/seg1.ts?token=abc")
    assert (second.status, second.headers["X-Cache"]) == (200, "HIT")
    assert await second.read() == SEGMENT
    assert second.headers["ETag"] == '"seg1"'
    assert second.headers["Cache-Control"] == "public, max-age=3600"
    assert second.headers["Via"] == "1.1 classcast-edge"
    assert second.headers["Access-Control-Allow-Origin"] == "*"
    assert fake.hits["/v/seg1.ts"] == 1


async def test_200_concurrent_cold_requests_make_one_upstream_fetch(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/cold.ts", SEGMENT, headers=TS, gate=gate)

    url = edge.make_url("/v/cold.ts")
    waiters = FillWaiters(edge)

    async def fetch(session: aiohttp.ClientSession) -> tuple[str, bytes]:
        async with session.get(url) as response:
            return response.headers["X-Cache"], await response.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(fetch(session)) for _ in range(200)]
        # the upstream holds the second half until every request has joined the fill
        await waiters.until(lambda: waiters.joins["/v/cold.ts"] == 200, within=10)
        assert edge.stats.coalesced == 199
        gate.set()
        results = await asyncio.gather(*tasks)
    assert fake.hits["/v/cold.ts"] == 1
    assert all(body == SEGMENT for _, body in results)
    labels = sorted(label for label, _ in results)
    assert labels.count("MISS") == 1
    assert labels.count("COALESCED") == 199


async def test_waiters_get_first_bytes_before_the_fill_completes(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/slow.ts", SEGMENT, headers=TS, gate=gate)
    first = await edge.get("/v/slow.ts")
    joiner = await edge.get("/v/slow.ts")
    # the upstream has sent only half and waits on the gate: both already stream
    head_a = await first.content.readexactly(64 * 1024)
    head_b = await joiner.content.readexactly(64 * 1024)
    assert head_a == head_b == SEGMENT[: 64 * 1024]
    assert (first.headers["X-Cache"], joiner.headers["X-Cache"]) == ("MISS", "COALESCED")
    late = await edge.get("/v/slow.ts")  # joins late: reads what is there, then the tail
    assert late.headers["X-Cache"] == "COALESCED"
    assert await late.content.readexactly(len(SEGMENT) // 2) == SEGMENT[: len(SEGMENT) // 2]
    gate.set()
    assert head_a + await first.read() == SEGMENT
    assert head_b + await joiner.read() == SEGMENT
    assert SEGMENT[: len(SEGMENT) // 2] + await late.read() == SEGMENT
    assert fake.hits["/v/slow.ts"] == 1


async def test_first_client_hanging_up_does_not_cancel_the_fill(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/hangup.ts", SEGMENT, headers=TS, gate=gate)
    waiters = FillWaiters(edge)
    quitter = await edge.get("/v/hangup.ts")
    await quitter.content.readexactly(1024)
    stayer = await edge.get("/v/hangup.ts")
    assert waiters.waiting["/v/hangup.ts"] == 2
    quitter.close()  # hangs up mid-body
    await waiters.until(lambda: waiters.waiting["/v/hangup.ts"] == 1)  # the edge saw it go
    assert edge.cache.fills.get(cache_key("/v/hangup.ts")) is not None  # the fill runs on
    gate.set()
    assert await stayer.read() == SEGMENT
    again = await edge.get("/v/hangup.ts")
    assert again.headers["X-Cache"] == "HIT"
    assert await again.read() == SEGMENT
    assert fake.hits["/v/hangup.ts"] == 1


async def test_truncated_upstream_body_is_never_cached_nor_served_complete(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/broken.ts", SEGMENT, headers=TS, truncate=True)
    response = await edge.get("/v/broken.ts")
    assert response.status == 200  # the headers went out before the break was known
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()  # ...so the edge drops the connection instead of ending the body
    fake.put("/v/broken.ts", SEGMENT, headers=TS)
    again = await edge.get("/v/broken.ts")
    assert again.headers["X-Cache"] == "MISS"
    assert await again.read() == SEGMENT
    assert fake.hits["/v/broken.ts"] == 2


async def test_upstream_unreachable_is_a_clear_502(make_edge: EdgeFactory) -> None:
    edge = await make_edge(upstreams=["http://127.0.0.1:9"])
    response = await edge.get("/v/any.ts")
    assert response.status == 502
    assert "unreachable" in await response.text()
    assert (await edge.get("/healthz")).status == 200


async def test_a_miss_decided_before_a_fill_ends_answers_from_what_it_stored(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """The handler decides at once but its coroutine runs a loop turn later: if the running
    fill has stored the object by then, the waiter must not start a second fill (which would
    replace the file under readers of the first)."""
    fake, _ = upstream
    body = os.urandom(200_000)
    gate = asyncio.Event()
    fake.put("/v/late.ts", body, headers={"Content-Type": "video/mp2t"}, gate=gate)
    waiters = FillWaiters(edge)
    first = asyncio.ensure_future(edge.get("/v/late.ts"))
    await waiters.until(lambda: waiters.joins["/v/late.ts"] == 1)
    assert edge.cache.fills.get(cache_key("/v/late.ts")) is not None
    decided = edge.edge.handler.handle(Request("GET", "/v/late.ts", {}))
    assert not isinstance(decided, Answer)  # nothing stored yet: the answer must wait
    gate.set()
    assert await (await first).read() == body
    await settle(edge)
    answer = await decided
    assert (answer.status, answer.x_cache) == (200, "HIT")
    assert fake.hits["/v/late.ts"] == 1
    if isinstance(answer, FileAnswer):
        answer.release()
