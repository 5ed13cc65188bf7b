"""LL-HLS holds at the edge, end to end against a scripted upstream on loopback (issue 20):
held reloads answered together from one shared answer, a hinted part the upstream answers
404 held and asked again (its 404 never kept), and the upstream read timeout of held LL
requests stretched to three target durations while other requests keep theirs."""

from __future__ import annotations

import asyncio

from edge.cache.keys import CacheKey, cache_key
from edge.http.messages import Held
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, ScriptedUpstream
from tests.support.llplaylists import playlist

PLAYLIST = "/live/ch/360p/index.m3u8"
HLS = {"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "max-age=1"}
BLOCKING = {**HLS, "Cache-Control": "max-age=24"}
TS = {"Content-Type": "video/mp2t", "Cache-Control": "max-age=60"}
NOW = playlist(6, parts_last=8, trailing=3)  # ends at part 2 of segment 106, hints 106.3
NEXT = playlist(6, parts_last=8, trailing=4)
HINT = "/live/ch/360p/p106.3.ts"  # the builder's hint, p106.3.ts, beside the playlist
HELD = f"{PLAYLIST}?_HLS_msn=106&_HLS_part=3"


class HeldRequests:
    """Requests the edge holds on shared answers, told by the edge as it holds each."""

    def __init__(self, edge: EdgeClient) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        edge.edge.handler.low_latency.on_hold = self._told

    def _told(self, held: Held) -> None:
        self.count += 1
        self._changed.set()

    async def until(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_held(edge: EdgeClient, headers: str = "") -> Stream:
    """A raw keep-alive connection holding a blocking reload."""
    reader, writer = await asyncio.open_connection(edge.host, edge.port)
    writer.write(f"GET {HELD} HTTP/1.1\r\nHost: edge\r\n{headers}\r\n".encode())
    await writer.drain()
    return reader, writer


async def read_answer(stream: Stream) -> tuple[bytes, bytes]:
    reader, _ = stream
    head = await reader.readuntil(b"\r\n\r\n")
    lengths = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    length = lengths[0] if lengths else 0  # a 304 has none
    return head, await reader.readexactly(length)


async def test_held_reloads_are_answered_together_with_one_shared_answer(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    gate = asyncio.Event()
    target = str(cache_key(HELD))
    fake.put(target, NEXT.encode(), headers={**BLOCKING, "ETag": '"n"'}, gate=gate)
    assert (await edge.get(PLAYLIST)).status == 200
    held = HeldRequests(edge)
    streams = [await open_held(edge) for _ in range(30)]
    await held.until(30)
    # one that hangs up while held, and one with a validator (answered on its own path)
    _, gone = await open_held(edge)
    await held.until(31)
    gone.close()
    await gone.wait_closed()
    conditional = await open_held(edge, 'If-None-Match: "n"\r\n')
    await fake.arrived(target)
    gate.set()
    answers = [await read_answer(stream) for stream in streams]
    assert all(body == NEXT.encode() for _, body in answers)
    labels = [head.split(b"X-Cache: ")[1].split(b"\r\n")[0] for head, _ in answers]
    assert labels == [b"MISS"] + [b"COALESCED"] * 29
    assert len({head for head, _ in answers[1:]}) == 1  # the same bytes to every joiner
    head, _ = await read_answer(conditional)
    assert head.startswith(b"HTTP/1.1 304")  # its own answer: the validator matched
    assert fake.hits[target] == 1
    assert edge.edge.handler.low_latency.released == 1
    assert edge.stats.requests["COALESCED"] >= 29
    for _, writer in [*streams, conditional]:  # kept alive: closed by the client
        assert not writer.transport.is_closing()
        writer.close()
        await writer.wait_closed()


async def test_a_hinted_part_the_upstream_404s_is_asked_again_until_it_exists(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    assert (await edge.get(PLAYLIST)).status == 200
    assert HINT in edge.edge.handler.low_latency.hints
    asking = asyncio.create_task(edge.get(HINT))
    await fake.arrived(HINT, 2)  # the upstream does not hold it: 404, then asked again
    body = bytes(188) * 40
    fake.put(HINT, body, headers=TS)
    response = await asking
    assert (response.status, await response.read()) == (200, body)
    assert edge.edge.handler.low_latency.hint_retries >= 1


async def test_a_hinted_part_that_never_comes_is_404_after_three_target_durations_unkept(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fast = playlist(6, parts_last=2, trailing=1, target=1)  # holds of 3 s
    fake.put(PLAYLIST, fast.encode(), headers=HLS)
    assert (await edge.get(PLAYLIST)).status == 200
    hint = "/live/ch/360p/p106.1.ts"
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await edge.get(hint)
    assert response.status == 404
    assert loop.time() - started >= 3.0
    assert edge.cache.lookup(CacheKey(hint)) is None  # never remembered
    assert fake.hits[hint] > 3


async def test_an_absence_cached_before_the_hint_is_forgotten_when_it_is_hinted(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    assert (await edge.get(HINT)).status == 404  # asked too early: no playlist hints it yet
    assert edge.cache.lookup(CacheKey(HINT)) is not None  # the negative TTL keeps it
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    fake.put(HINT, b"part", headers=TS)
    assert (await edge.get(PLAYLIST)).status == 200
    response = await edge.get(HINT)
    assert (response.status, await response.read()) == (200, b"part")


async def test_held_ll_requests_wait_three_target_durations_for_the_upstream(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    edge = await make_edge(read_timeout=0.5)  # far below 3 TD: held requests need longer
    fast = playlist(6, parts_last=2, trailing=1, target=1)  # 3 TD + margin = 5 s
    fake.put(PLAYLIST, fast.encode(), headers=HLS)
    assert (await edge.get(PLAYLIST)).status == 200
    held = f"{PLAYLIST}?_HLS_msn=106&_HLS_part=1"
    fake.put(str(cache_key(held)), fast.encode(), headers=BLOCKING, delay=1.2)
    fake.put("/live/ch/360p/p106.1.ts", b"part", headers=TS, delay=1.2)
    fake.put("/live/ch/360p/s104.ts", b"segment", headers=TS, delay=1.2)
    assert edge.edge.cache.fetcher.holds[PLAYLIST] == 5.0
    blocking, hinted, plain = await asyncio.gather(
        edge.get(held), edge.get("/live/ch/360p/p106.1.ts"), edge.get("/live/ch/360p/s104.ts")
    )
    assert (blocking.status, await blocking.text()) == (200, fast)
    assert (hinted.status, await hinted.read()) == (200, b"part")
    assert plain.status >= 500  # an ordinary request keeps the configured read timeout
