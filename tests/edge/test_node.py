"""A node's one cache, in one process: the supervisor's hub and two workers' edges joined by
real socketpairs, each worker its own HTTP server on loopback, one fake clock. What the
workers of a real node do across processes (tests/e2e/test_workers.py) is decided here.

What the hub and a worker tell each other crosses a socket with no event to await, so those
waits poll (`until`); the upstream's arrivals, fills and file deletions are awaited."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.cache.disk import DiskOwner
from edge.cache.memory import MemoryTier
from edge.cache.sink import TempFileSink
from edge.config import build
from edge.node.hub import Hub
from edge.node.link import NodeLink
from edge.node.relay import Relay
from tests.edge.fakes import EdgeClient, EdgeClients, FakeClock, ScriptedUpstream, settle
from tests.support.wait import until

SEGMENT = os.urandom(1_000_000)
TS = {"Content-Type": "video/mp2t", "Cache-Control": "max-age=3600", "ETag": '"s1"'}
M3U8 = "application/vnd.apple.mpegurl"
ADMIN = "node-admin-token"
LIVE = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4,\ns7.ts\n"


@dataclass
class Node:
    hub: Hub
    relay: Relay
    workers: list[EdgeClient]
    links: list[NodeLink]
    root: Path

    def data_files(self) -> list[Path]:
        return list(self.root.glob("??/??/*.data"))


@pytest.fixture
async def node(
    upstream: tuple[ScriptedUpstream, str], tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Node]:
    root = tmp_path / "cache"
    disk = DiskOwner(root, 3_500_000)
    await disk.load()
    relay = Relay(Hub(disk, MemoryTier(16 * 1024**2, 1024**2), clock=time.monotonic))
    clients = EdgeClients()
    links = []
    for index in range(2):
        ours, theirs = socket.socketpair()
        await relay.attach(index + 1, index, os.getpid(), ours)
        link = NodeLink(index)
        await link.open(theirs)
        links.append(link)
        config = build(
            {
                "upstreams": [upstream[1]],
                "cache_dir": str(root),
                "retries": 0,
                "prefetch_segments": 0,
                "node_id": "classcast-edge",
                "port": 0,
                "access_log": False,
                "disk_bytes": 3_500_000,
                "admin_token": ADMIN,
            },
        )
        await clients.start(config, clock=clock, node=link)
    yield Node(relay.hub, relay, clients.clients, links, root)
    await clients.close()
    for link in links:
        link.close()
    await disk.close()


async def test_a_miss_in_two_workers_is_one_fetch_and_the_second_streams_it(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/cold.ts", SEGMENT, headers=TS, gate=gate)
    a, b = node.workers
    first = await a.get("/v/cold.ts")  # the head is in; half the body waits on the gate
    assert first.headers["X-Cache"] == "MISS"
    second = await b.get("/v/cold.ts")
    assert second.headers["X-Cache"] == "COALESCED"
    assert await second.content.readexactly(len(SEGMENT) // 2) == SEGMENT[: len(SEGMENT) // 2]
    assert b.cache.fetcher.fetching == 0 and a.cache.fetcher.fetching == 1
    gate.set()
    assert await first.read() == SEGMENT
    assert await second.content.read() == SEGMENT[len(SEGMENT) // 2 :]
    assert fake.hits["/v/cold.ts"] == 1
    await settle(a)
    third = await b.get("/v/cold.ts")
    assert (third.headers["X-Cache"], await third.read()) == ("HIT", SEGMENT)
    assert len(node.data_files()) == 1  # written once, by the worker that fetched it


async def test_what_one_worker_stored_is_a_hit_in_the_other(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/a.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n", headers={"Content-Type": M3U8})
    a, b = node.workers
    assert (await a.get("/v/a.m3u8")).headers["X-Cache"] == "MISS"
    await settle(a)
    answer = await b.get("/v/a.m3u8")
    assert answer.headers["X-Cache"] == "HIT"
    assert await answer.read() == b"#EXTM3U\n#EXT-X-ENDLIST\n"
    assert fake.hits["/v/a.m3u8"] == 1


async def test_a_new_worker_gets_the_node_copy_instead_of_fetching(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/seg.ts", SEGMENT, headers=TS)
    a, b = node.workers
    await (await a.get("/v/seg.ts")).read()
    await settle(a)
    name = a.cache.disk.keys()[0]
    await until(lambda: b.cache.disk.get(name) is not None, 5, "b told of the store")
    b.cache.disk.discard(name)  # as a worker started after the store: its view is empty
    answer = await b.get("/v/seg.ts")
    assert (answer.headers["X-Cache"], await answer.read()) == ("HIT", SEGMENT)
    assert fake.hits["/v/seg.ts"] == 1


async def test_an_expired_live_playlist_is_refreshed_once_for_the_node(
    node: Node, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    fake.put(
        "/live/c/index.m3u8", LIVE, headers={"Content-Type": M3U8, "Cache-Control": "max-age=1"}
    )
    a, b = node.workers
    await (await a.get("/live/c/index.m3u8")).read()
    await settle(a)
    assert (await b.get("/live/c/index.m3u8")).headers["X-Cache"] == "HIT"
    for seconds in (5.0, 10.0, 5.0):  # stale (served, refreshed behind) or past its cap
        clock.advance(seconds)
        for worker in (a, b, a, b):
            assert (await worker.get("/live/c/index.m3u8")).status == 200
        await settle(a)
        await settle(b)
    assert fake.hits["/live/c/index.m3u8"] == 4  # once at first, once per expiry: not per worker


async def test_purge_in_one_worker_forgets_the_object_in_every_worker(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/p.ts", SEGMENT, headers=TS)
    a, b = node.workers
    await (await a.get("/v/p.ts")).read()
    await settle(a)
    await (await b.get("/v/p.ts")).read()  # b holds it too now
    order = await a.post(
        "/_admin/purge", json={"path": "/v/p.ts"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert (order.status, await order.json()) == (200, {"purged": 1})  # one object, two copies
    assert a.cache.disk.keys() == b.cache.disk.keys() == []
    await node.hub.disk.deleted()
    assert not node.data_files()
    assert (await b.get("/v/p.ts")).headers["X-Cache"] == "MISS"
    assert fake.hits["/v/p.ts"] == 2


async def test_metrics_in_either_worker_count_the_requests_of_both(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/m.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n", headers={"Content-Type": M3U8})
    a, b = node.workers
    for worker in (a, a, b, b, b):
        await (await worker.get("/v/m.m3u8")).read()
    text = await (await b.get("/metrics")).text()
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values[("classcast_edge_requests_total", (("cache", "HIT"),))] == 4
    assert values[("classcast_edge_requests_total", (("cache", "MISS"),))] == 1
    assert values[("classcast_edge_workers", ())] == 2
    pid = str(os.getpid())
    assert values[("classcast_edge_worker_requests", (("pid", pid), ("worker", "0")))] == 2
    assert values[("classcast_edge_worker_requests", (("pid", pid), ("worker", "1")))] == 3


async def test_the_node_budget_holds_whatever_worker_stored(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    for number in range(8):  # 8 MB through a 3.5 MB budget, from both workers
        fake.put(f"/v/{number}.ts", os.urandom(1_000_000), headers=TS)
        worker = node.workers[number % 2]
        await (await worker.get(f"/v/{number}.ts")).read()
        await settle(worker)
    assert node.hub.disk.bytes_used <= 3_500_000
    await until(lambda: node.hub.disk.get("/v/7.ts") is not None, 5, "the last store heard")
    await node.hub.disk.deleted()
    assert sum(p.stat().st_size for p in node.data_files()) <= 3_500_000
    kept = set(node.hub.disk.keys())
    assert len(kept) == 3
    for worker in node.workers:  # no worker's view holds what the node evicted
        await until(partial(_holds_only, worker, kept), 5, "evictions heard")


def _holds_only(worker: EdgeClient, kept: set[str]) -> bool:
    return set(worker.cache.disk.keys()) <= kept


async def test_followers_claim_again_when_the_filler_dies_before_the_head(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/slow.ts", SEGMENT, headers=TS, delay=0.3)
    a, b = node.workers
    first = asyncio.ensure_future(a.get("/v/slow.ts"))
    await fake.arrived("/v/slow.ts")
    assert a.cache.fetcher.fetching == 1
    second = asyncio.ensure_future(b.get("/v/slow.ts"))
    await until(
        lambda: bool(node.hub.claims) and bool(next(iter(node.hub.claims.values())).followers),
        5,
        "b following a's claim",
    )
    node.relay.attached[1].channel.close()  # worker a, as far as the node knows, is gone
    answer = await second
    assert (answer.status, await answer.read()) == (200, SEGMENT)
    assert answer.headers["X-Cache"] == "MISS"  # b fetched it itself
    assert fake.hits["/v/slow.ts"] == 2
    (await first).close()


async def test_a_follower_mid_body_takes_the_fill_over_when_its_filler_dies(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/cut.ts", SEGMENT, headers=TS, gate=gate)
    a, b = node.workers
    first = await a.get("/v/cut.ts")
    second = await b.get("/v/cut.ts")
    half = len(SEGMENT) // 2
    assert await second.content.readexactly(half) == SEGMENT[:half]
    node.relay.attached[1].channel.close()  # worker a, as far as the node knows, is gone
    await fake.arrived("/v/cut.ts", 2)  # b fetches it again...
    gate.set()
    assert await second.content.read() == SEGMENT[half:]  # ...and its viewer gets the rest
    assert await first.read() == SEGMENT
    await settle(b)
    assert b.cache.stats.fills == 1
    again = await b.get("/v/cut.ts")
    assert (again.headers["X-Cache"], await again.read()) == ("HIT", SEGMENT)


async def test_a_takeover_that_finds_another_object_fails_its_followers_cleanly(
    node: Node, upstream: tuple[ScriptedUpstream, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/changed.ts", SEGMENT, headers=TS, gate=gate)
    a, b = node.workers
    first = await a.get("/v/changed.ts")
    second = await b.get("/v/changed.ts")
    await second.content.readexactly(len(SEGMENT) // 2)
    fake.put("/v/changed.ts", os.urandom(len(SEGMENT)), headers={**TS, "ETag": '"s2"'})
    node.relay.attached[1].channel.close()
    with pytest.raises(aiohttp.ClientPayloadError):
        await second.read()  # never half of one object and half of another
    reasons = [getattr(record, "error", "") for record in caplog.records]
    assert "the object changed while a fill was taken over" in reasons
    gate.set()
    first.close()


async def test_a_fill_that_ends_before_its_follower_looks_leaves_no_claim_behind(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    body = b"#EXTM3U\n#EXT-X-ENDLIST\n"  # no-store: a second claim would have to fetch it
    headers = {"Content-Type": M3U8, "Cache-Control": "no-store"}
    fake.put("/v/x.m3u8", body, headers=headers, delay=0.3)
    a, b = node.workers
    first = asyncio.ensure_future(a.get("/v/x.m3u8"))
    await fake.arrived("/v/x.m3u8")
    assert a.cache.fetcher.fetching == 1
    assert node.links[1].channel is not None and node.links[1].channel.transport is not None
    node.links[1].channel.transport.pause_reading()  # b is busy: the node's words queue up
    second = asyncio.ensure_future(b.get("/v/x.m3u8"))
    await until(lambda: any(c.followers for c in node.hub.claims.values()), 5, "b following")
    assert (await first).status == 200
    await until(lambda: not node.hub.claims, 5, "a's end went out to b, unread")
    node.links[1].channel.transport.resume_reading()  # "follow" and its end in one read
    answer = await second
    assert (answer.status, await answer.read()) == (200, body)
    assert fake.hits["/v/x.m3u8"] == 1 and not node.hub.claims
    async with asyncio.timeout(5):  # and the key is not wedged for anyone
        assert (await a.get("/v/x.m3u8")).status == 200


async def test_a_takeover_without_a_temp_file_fails_its_viewers_instead_of_mixing_bytes(
    node: Node, upstream: tuple[ScriptedUpstream, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    fake.put("/v/full.ts", SEGMENT, headers=TS, gate=gate)
    a, b = node.workers
    first = await a.get("/v/full.ts")
    second = await b.get("/v/full.ts")
    await second.content.readexactly(len(SEGMENT) // 2)

    async def disk_full(sink: TempFileSink) -> None:
        sink.failed = OSError(28, "No space left on device")

    monkeypatch.setattr(TempFileSink, "open", disk_full)  # the disk is full from now on
    node.relay.attached[1].channel.close()
    with pytest.raises(aiohttp.ClientPayloadError):
        await second.read()  # never the object's first half again after its first half
    gate.set()
    first.close()


async def test_what_a_worker_stored_before_it_heard_of_a_purge_is_not_kept(
    node: Node, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/v/late.ts", SEGMENT, headers=TS)
    a, b = node.workers
    from_b = node.relay.attached[2].channel.transport
    assert from_b is not None
    from_b.pause_reading()  # what b says reaches the node late
    await (await b.get("/v/late.ts")).read()
    await settle(b)  # b stored it; its word of it waits in the socket
    order = asyncio.ensure_future(
        a.post(
            "/_admin/purge",
            json={"path": "/v/late.ts"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
    )
    await until(lambda: node.hub.epoch == 1, 5, "the purge went out first")
    from_b.resume_reading()
    assert (await order).status == 200
    await until(lambda: not node.data_files(), 5, "b's late copy deleted, not kept")
    assert b.cache.disk.keys() == []
    assert (await a.get("/v/late.ts")).headers["X-Cache"] == "MISS"
