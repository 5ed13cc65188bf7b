"""The HTTP/1.1 front over real sockets: raw bytes in, raw bytes out (edge/http/protocol.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from classcast.clock import FakeClock
from edge.http.messages import Answer, Request
from edge.http.protocol import Connection, Limits
from edge.http.server import HttpServer
from edge.http.ticker import Tick
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, ScriptedUpstream, settle

PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg.ts\n#EXT-X-ENDLIST\n"
M3U8 = {"Content-Type": "application/vnd.apple.mpegurl"}
TS = {"Content-Type": "video/mp2t"}
BIG = os.urandom(8 * 1024 * 1024)


@dataclass(frozen=True)
class Address:
    host: str
    port: int


class Wire:
    """One raw client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, edge: EdgeClient | Address, rcvbuf: int = 0) -> Wire:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (edge.host, edge.port))
        return cls(*await asyncio.open_connection(sock=sock))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def served_by(self, server: HttpServer) -> Connection:
        """The edge's side of this connection (the server has seen it)."""
        here = self.writer.get_extra_info("sockname")
        (connection,) = [
            c
            for c in server.connections
            if c.transport is not None and c.transport.get_extra_info("peername") == here
        ]
        return connection

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        """One response: status, headers (lower-case names) and body (by Content-Length)."""
        async with asyncio.timeout(10):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.lower()] = value.strip()
            status = int(lines[0].split()[1])
            length = int(headers.get("content-length", "0"))
            body = await self.reader.readexactly(length) if length else b""
            return status, headers, body

    async def closed(self) -> bool:
        """Whether the edge closed the connection (read to the end); closes our side too."""
        async with asyncio.timeout(10):
            ended = await self.reader.read() == b""
        self.close()
        return ended

    def close(self) -> None:
        self.writer.close()


def get(path: str, extra: str = "", version: str = "1.1") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: edge\r\n{extra}\r\n".encode()


class HandTicker:
    """Drives the server's tick for a test: `step` moves the fake clock, then ticks."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._tick: Tick | None = None

    def start(self, tick: Tick) -> None:
        self._tick = tick

    def stop(self) -> None:
        self._tick = None

    def step(self, seconds: float) -> None:
        assert self._tick is not None, "the server is not ticking"
        self.clock.advance(seconds)
        self._tick()


class WatchedConnection(Connection):
    """A real connection that tells the test what reached it, so the test waits on that."""

    def __init__(self, server: HttpServer, opened: asyncio.Queue[WatchedConnection]) -> None:
        super().__init__(server)
        self.opened = opened
        self.received = 0
        self._arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.opened.put_nowait(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.received += len(data)
        self._arrived.set()

    async def has_received(self, count: int) -> None:
        while self.received < count:
            self._arrived.clear()
            await self._arrived.wait()

    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


@dataclass
class SteppedServer:
    """An HTTP server alone (a playlist for every request) whose time moves by hand."""

    server: HttpServer
    address: Address
    ticker: HandTicker
    opened: asyncio.Queue[WatchedConnection]
    wires: list[Wire] = field(default_factory=list)

    async def connect(self) -> tuple[Wire, WatchedConnection]:
        """A client connection and, once the server has taken it, the server's side."""
        wire = await Wire.open(self.address)
        self.wires.append(wire)
        async with asyncio.timeout(5):
            side = await self.opened.get()
        assert wire.served_by(self.server) is side
        return wire, side


def playlist(request: Request) -> Answer:
    return Answer(200, b"Content-Type: application/vnd.apple.mpegurl\r\n", PLAYLIST)


@pytest.fixture
async def stepped() -> AsyncIterator[Callable[[Limits], Awaitable[SteppedServer]]]:
    started: list[SteppedServer] = []

    async def start(limits: Limits) -> SteppedServer:
        clock = FakeClock()
        ticker = HandTicker(clock)
        opened: asyncio.Queue[WatchedConnection] = asyncio.Queue()
        server = HttpServer(
            playlist,
            limits,
            monotonic=clock,
            clock=clock,
            ticker=ticker,
            protocol=lambda server: WatchedConnection(server, opened),
        )
        port = await server.listen("127.0.0.1", 0)
        server.start_ticking()
        started.append(SteppedServer(server, Address("127.0.0.1", port), ticker, opened))
        return started[-1]

    yield start
    for edge in started:
        for wire in edge.wires:  # a test that failed half-way leaves some open
            wire.close()
        await edge.server.stop(grace_s=0)


@pytest.fixture
async def warm(edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]) -> EdgeClient:
    for n in range(3):
        upstream[0].put(f"/v/{n}.m3u8", PLAYLIST + b"#%d\n" % n, headers=M3U8)
        assert (await edge.get(f"/v/{n}.m3u8")).status == 200
    upstream[0].put("/v/big.ts", BIG, headers=TS)
    assert await (await edge.get("/v/big.ts")).read() == BIG
    await settle(edge)
    return edge


async def test_pipelined_requests_are_answered_in_order(warm: EdgeClient) -> None:
    wire = await Wire.open(warm)
    # a miss, a hit and a HEAD in one write: answers come back in the order asked
    wire.send(get("/v/2.m3u8") + get("/v/cold.m3u8") + get("/v/0.m3u8") + get("/v/1.m3u8"))
    bodies = [await wire.answer() for _ in range(4)]
    assert [b[0] for b in bodies] == [200, 404, 200, 200]
    assert bodies[0][2].endswith(b"#2\n") and bodies[2][2].endswith(b"#0\n")
    assert bodies[3][2].endswith(b"#1\n")
    wire.close()


async def test_keep_alive_reuse_and_connection_close(warm: EdgeClient) -> None:
    wire = await Wire.open(warm)
    for _ in range(3):
        wire.send(get("/v/0.m3u8"))
        status, headers, _ = await wire.answer()
        assert status == 200 and "connection" not in headers  # HTTP/1.1: kept by default
    wire.send(get("/v/0.m3u8", "Connection: close\r\n"))
    status, headers, _ = await wire.answer()
    assert headers["connection"] == "close"
    assert await wire.closed()


async def test_http_1_0_closes_unless_it_asks_for_keep_alive(warm: EdgeClient) -> None:
    wire = await Wire.open(warm)
    wire.send(get("/v/0.m3u8", "Connection: keep-alive\r\n", "1.0"))
    status, headers, body = await wire.answer()
    assert (status, headers["connection"]) == (200, "keep-alive")
    wire.send(get("/v/0.m3u8", version="1.0"))
    status, headers, body = await wire.answer()
    assert status == 200 and headers["connection"] == "close" and body.startswith(b"#EXTM3U")
    assert await wire.closed()


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: e\r\n\r\n", 414, "target longer"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"h" * 9000 + b"\r\n\r\n", 431, "over 8190"),
        (
            b"GET / HTTP/1.1\r\n" + b"X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" * 200 + b"\r\n",
            431,
            "fields",
        ),
        (b"NOT A REQUEST\r\n\r\n", 400, "malformed"),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "malformed"),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400, "malformed"),
        (
            b"POST /_admin/purge HTTP/1.1\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "malformed",
        ),
        (b"GET / HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n", 413, "body over"),
        (b"GET / HTTP/1.1\r\nExpect: teapot\r\n\r\n", 417, "expect"),
        (b"GET /v/0.m3u8 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400, "carries no body"),
        (b"CONNECT edge:443 HTTP/1.1\r\nHost: edge\r\n\r\n", 405, "not allowed"),
    ],
)
async def test_malformed_requests_get_a_4xx_and_the_connection_closes(
    warm: EdgeClient, request_bytes: bytes, status: int, reason: str
) -> None:
    wire = await Wire.open(warm)
    wire.send(request_bytes)
    got, headers, body = await wire.answer()
    assert got == status
    assert reason in body.decode().lower()
    if status not in (405, 400) or reason == "malformed":
        assert headers["connection"] == "close"
        assert await wire.closed()
    wire.close()
    assert (await warm.get("/v/0.m3u8")).status == 200  # the edge is fine


async def test_expect_100_continue_gets_continue_then_the_answer(warm: EdgeClient) -> None:
    wire = await Wire.open(warm)
    wire.send(b"POST /_admin/purge HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    async with asyncio.timeout(5):
        assert await wire.reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    wire.send(b"{}")
    status, _, body = await wire.answer()
    assert status == 404 and b"admin endpoints are off" in body  # no token configured
    wire.close()


async def test_a_slowloris_is_cut_off_while_others_are_served(
    stepped: Callable[[Limits], Awaitable[SteppedServer]],
) -> None:
    edge = await stepped(Limits(header_timeout=1, idle_timeout=1))
    slow, slow_side = await edge.connect()
    idle, idle_side = await edge.connect()
    viewer, _ = await edge.connect()
    half_a_head = b"GET /v/0.m3u8 HTTP/1.1\r\nHost: e\r\nX-Slow: "
    slow.send(half_a_head)
    await slow_side.has_received(len(half_a_head))
    for _ in range(3):  # a real viewer keeps being answered meanwhile
        viewer.send(get("/v/0.m3u8"))
        assert (await viewer.answer())[0] == 200
        edge.ticker.step(0.3)
    assert slow_side.is_open() and idle_side.is_open()  # 0.9 s: not yet
    edge.ticker.step(0.2)  # the first tick after the deadline
    status, headers, _ = await slow.answer()
    assert status == 408 and headers["connection"] == "close"
    assert await slow.closed()
    assert await idle.closed()  # said nothing at all: closed without an answer
    viewer.send(get("/v/0.m3u8"))
    assert (await viewer.answer())[0] == 200
    viewer.close()


async def test_a_kept_alive_connection_closes_after_the_idle_timeout_not_before(
    stepped: Callable[[Limits], Awaitable[SteppedServer]],
) -> None:
    edge = await stepped(Limits(header_timeout=1, idle_timeout=5))
    wire, side = await edge.connect()
    wire.send(get("/v/0.m3u8"))
    assert (await wire.answer())[0] == 200
    edge.ticker.step(4.9)  # past the header timeout: an idle connection has the longer one
    assert side.is_open()
    edge.ticker.step(0.2)
    assert await wire.closed()  # closed without a word


async def test_a_client_that_leaves_mid_segment_leaks_no_descriptor(warm: EdgeClient) -> None:
    assert await (await warm.get("/v/big.ts")).read() == BIG  # its descriptor stays open: hot
    before = len(os.listdir("/proc/self/fd"))
    kept = len(warm.edge.server.connections)
    for _ in range(5):
        wire = await Wire.open(warm, rcvbuf=4096)
        wire.send(get("/v/big.ts"))
        await wire.reader.readexactly(100_000)
        wire.writer.transport.abort()
        wire.close()
    async with asyncio.timeout(5):  # the edge saw each client go (the fixture's stays)
        await warm.edge.server.wait_connections(lambda count: count <= kept)
    assert len(os.listdir("/proc/self/fd")) <= before
    assert (await warm.get("/v/big.ts")).status == 200


async def test_a_slow_reader_costs_no_memory_and_gets_every_byte(warm: EdgeClient) -> None:
    wire = await Wire.open(warm, rcvbuf=8192)
    sent_before = warm.sends.bytes_sent
    wire.send(get("/v/big.ts"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    received, digest = 0, hashlib.sha256()
    async with asyncio.timeout(30):
        head = await wire.reader.readuntil(b"\r\n\r\n")
        # nothing of the body read yet: the socket filled, and the rest waits for it in a task
        sending = wire.served_by(warm.edge.server).task
        assert sending is not None and not sending.done()
        while received < len(BIG):
            chunk = await wire.reader.read(64 * 1024)
            received += len(chunk)
            digest.update(chunk)
        await sending  # counted once the answer is done, part at once, part later
    assert b"200 OK" in head and digest.digest() == hashlib.sha256(BIG).digest()
    # zero-copy: the 8 MiB never passed through the edge's memory
    assert warm.sends.copied_bytes == 0
    assert warm.sends.bytes_sent - sent_before == len(BIG)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 4 * 1024
    wire.close()


async def test_connections_per_client_and_request_rate_are_limited(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    edge = await make_edge(max_conns_per_client=2, rate_per_client=5, rate_burst_per_client=5)
    upstream[0].put("/v/0.m3u8", PLAYLIST, headers=M3U8)
    kept = [await Wire.open(edge), await Wire.open(edge)]
    third = await Wire.open(edge)
    assert await third.closed()  # one too many: closed at once
    statuses = []
    for _ in range(7):
        kept[0].send(get("/v/0.m3u8"))
        status, headers, _ = await kept[0].answer()
        statuses.append(status)
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert int(headers["retry-after"]) >= 1
    assert edge.edge.server.stats.refused_connections == 1
    for wire in kept:
        wire.close()


async def test_the_handler_answers_plain_values_without_sockets(warm: EdgeClient) -> None:
    """The content handler speaks Request and Answer values: no server needed to drive it."""
    answer = warm.edge.handler.handle(Request("GET", "/v/0.m3u8?token=x", {}))
    assert isinstance(answer, Answer)
    assert (answer.status, answer.x_cache) == (200, "HIT") and answer.body.endswith(b"#0\n")
    assert b"X-Cache: HIT\r\n" in answer.headers and b"Age: " in answer.headers
    refused = warm.edge.handler.handle(Request("GET", "/v/../etc/passwd", {}))
    assert isinstance(refused, Answer) and refused.status == 400


async def test_a_stopping_server_answers_a_new_connections_first_request_and_closes_idle_ones(
    warm: EdgeClient,
) -> None:
    idle = await Wire.open(warm)
    idle.send(get("/v/0.m3u8"))
    assert (await idle.answer())[0] == 200  # a keep-alive connection, now idle
    seen = len(warm.edge.server.connections)
    fresh = await Wire.open(warm)  # accepted, its request not sent yet
    async with asyncio.timeout(5):  # the edge has seen the connection: it counts as open
        await warm.edge.server.wait_connections(lambda count: count > seen)
    stopping = asyncio.ensure_future(warm.edge.server.stop(grace_s=3.0))
    assert await idle.closed()  # closed at once: its client may retry on a new connection
    fresh.send(get("/v/1.m3u8"))  # a new connection's request may not be retried: answered
    status, headers, body = await fresh.answer()
    assert (status, headers["connection"], body.startswith(b"#EXTM3U")) == (200, "close", True)
    assert await fresh.closed()
    async with asyncio.timeout(2):
        await stopping
