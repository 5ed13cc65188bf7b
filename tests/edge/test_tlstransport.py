"""HTTPS on OpenSSL's socket BIO (edge/http/tlstransport.py): a server in this process,
real TLS clients on loopback, certificates of a test CA made here."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.http.messages import Answer, AnyAnswer, FileAnswer, Request
from edge.http.protocol import Connection, Limits
from edge.http.server import HttpServer
from edge.http.tls import ServerTls
from tests.support.certs import make_ca, make_leaf

BIG = os.urandom(6 * 1024 * 1024)
PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg.ts\n#EXT-X-ENDLIST\n"
TEXT = b"Content-Type: text/plain\r\n"


@dataclass(frozen=True)
class Pki:
    ca: Path
    tls: ServerTls

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory)
    leaf = make_leaf(ca, directory, "edge", 7)
    tls = ServerTls([str(leaf.cert)], [str(leaf.key)], "intermediate", ticket_rotate_s=0)
    return Pki(ca, tls)


class Watched(Connection):
    """A real connection that records the transport's flow-control calls for the test."""

    made: list[Watched] = []
    accepted = asyncio.Event()  # a connection was accepted (its handshake begins)
    opened = asyncio.Event()  # a handshake ended

    def __init__(self, server: HttpServer) -> None:
        super().__init__(server)
        self.accepted.set()
        self.paused_writing = asyncio.Event()
        self.paused_reading = 0
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.made.append(self)
        self.opened.set()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.paused_writing.set()

    def _queued(self, request: Request) -> None:
        reading = self.reading_paused
        super()._queued(request)
        self.paused_reading += self.reading_paused and not reading

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost.set()


@dataclass
class Served:
    server: HttpServer
    port: int
    file: Path

    async def open(self, ctx: ssl.SSLContext, **kwargs: int) -> Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=ctx, server_hostname="localhost", **kwargs
        )
        return Client(reader, writer)

    async def no_handshakes(self) -> None:
        """Until the server has let go of every connection whose handshake did not end."""
        async with asyncio.timeout(5):
            await self.server.wait_connections(lambda n: not self.server.handshaking)


@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        return await self.answer()

    async def answer(self) -> tuple[int, bytes]:
        async with asyncio.timeout(10):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            length = next(int(x.split(":")[1]) for x in lines if x.startswith("Content-Length"))
            return int(lines[0].split()[1]), await self.reader.readexactly(length)


@pytest.fixture
async def served(pki: Pki, tmp_path: Path) -> AsyncIterator[Callable[[Limits], Awaitable[Served]]]:
    started: list[HttpServer] = []
    file = tmp_path / "segment.ts"
    file.write_bytes(BIG)

    def handle(request: Request) -> AnyAnswer:
        if request.path == "/big":
            return Answer(200, TEXT, BIG)
        if request.path == "/file":
            fd = os.open(file, os.O_RDONLY)
            return FileAnswer(200, TEXT, fd, 0, len(BIG), lambda: os.close(fd))
        return Answer(200, TEXT, PLAYLIST)

    async def start(limits: Limits) -> Served:
        Watched.made = []
        Watched.accepted, Watched.opened = asyncio.Event(), asyncio.Event()
        server = HttpServer(handle, limits, protocol=Watched, tls_head=b"X-Tls: yes\r\n")
        port = await server.listen("127.0.0.1", 0, tls=pki.tls.context)
        server.start_ticking()
        started.append(server)
        return Served(server, port, file)

    yield start
    for server in started:
        await server.stop(grace_s=0)


async def test_answers_over_tls_with_the_https_lines(
    served: Callable[..., Awaitable[Served]], pki: Pki
) -> None:
    edge = await served(Limits())
    client = await edge.open(pki.client())
    for _ in range(3):
        assert await client.get("/p.m3u8") == (200, PLAYLIST)
    (connection,) = Watched.made
    assert (
        connection.tls_note.startswith(',"tls":"TLSv1.3"')
        and edge.server.stats.tls_connections == 1
    )
    assert connection.transport is not None
    assert connection.transport.get_extra_info("peername") == client.writer.get_extra_info(
        "sockname"
    )
    client.writer.close()
    await connection.lost.wait()


@pytest.mark.parametrize("path", ["/big", "/file"])
async def test_a_large_body_waits_for_a_slow_reader_and_arrives_whole(
    served: Callable[..., Awaitable[Served]], pki: Pki, path: str
) -> None:
    """The socket fills, OpenSSL's write is retried with the same bytes, the protocol is told
    to pause; nothing is lost or repeated once the client reads."""
    edge = await served(Limits())
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", edge.port))
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=pki.client(), server_hostname="localhost", limit=16 * 1024
    )
    client = Client(reader, writer)
    client.writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    async with asyncio.timeout(10):
        await Watched.opened.wait()
        (connection,) = Watched.made
        await connection.paused_writing.wait()  # the client has read nothing yet
    assert connection.transport is not None and connection.transport.get_write_buffer_size() > 0
    status, body = await client.answer()
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()
    assert await client.get("/p.m3u8") == (200, PLAYLIST)  # the connection goes on
    client.writer.close()


async def test_pipelined_requests_past_the_queue_pause_and_resume_reading(
    served: Callable[..., Awaitable[Served]], pki: Pki
) -> None:
    edge = await served(Limits(max_pipeline=4))
    client = await edge.open(pki.client())
    count = 40
    client.writer.write(b"GET /p.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n" * count)
    for _ in range(count):
        assert await client.answer() == (200, PLAYLIST)
    (connection,) = Watched.made
    assert connection.paused_reading >= 1 and not connection.reading_paused
    client.writer.close()


async def test_a_client_that_closes_mid_handshake_is_let_go(
    served: Callable[..., Awaitable[Served]], pki: Pki
) -> None:
    edge = await served(Limits())
    hello = await _client_hello(pki)
    _reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(hello[: len(hello) // 2])
    await asyncio.wait_for(Watched.accepted.wait(), 5)
    assert edge.server.handshaking
    writer.close()
    await edge.no_handshakes()
    assert not Watched.made and not edge.server.connections


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"\x16\x03\x01\x00\x05hello" + bytes(64)],
    ids=["plain-http", "bad-client-hello"],
)
async def test_not_tls_on_the_tls_port_is_closed_quietly(
    served: Callable[..., Awaitable[Served]],
    pki: Pki,
    garbage: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    edge = await served(Limits())
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(garbage)
    got = b""
    async with asyncio.timeout(5):  # until the edge closes: an alert at most, never HTTP
        with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread
            got = await reader.read()
    assert b"HTTP" not in got
    writer.close()
    await edge.no_handshakes()
    assert not Watched.made
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]


async def test_a_silent_client_is_cut_by_the_handshake_timeout(
    served: Callable[..., Awaitable[Served]], pki: Pki
) -> None:
    edge = await served(Limits(header_timeout=0.2))
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    await edge.no_handshakes()
    writer.close()


@pytest.mark.parametrize("how", ["close_notify", "fin"])
async def test_a_half_closed_client_gets_its_answer_then_the_close(
    served: Callable[..., Awaitable[Served]], pki: Pki, how: str
) -> None:
    """The request, then the client's close_notify or a bare TCP FIN: the answer goes out
    before the edge closes."""
    edge = await served(Limits())
    loop = asyncio.get_running_loop()
    client = BioClient(pki.client(), edge.port)
    got = await loop.run_in_executor(None, client.half_close, how)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(PLAYLIST)
    (connection,) = Watched.made
    await asyncio.wait_for(connection.lost.wait(), 5)


class BioClient:
    """A blocking TLS client over OpenSSL memory BIOs: it decides what goes on the wire,
    so it can half-close (close_notify, or only a TCP FIN) and keep reading."""

    def __init__(self, ctx: ssl.SSLContext, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")

    def half_close(self, how: str) -> bytes:
        self._until(self.tls.do_handshake)
        self.tls.write(b"GET /p.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        if how == "close_notify":
            with contextlib.suppress(ssl.SSLWantReadError):
                self.tls.unwrap()
        self._flush()
        self.sock.shutdown(socket.SHUT_WR)
        got = b""
        while data := self.sock.recv(65536):
            self.incoming.write(data)
            with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                while chunk := self.tls.read(65536):
                    got += chunk
        self.sock.close()
        return got

    def _until(self, step: Callable[[], object]) -> None:
        while True:
            try:
                step()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self.incoming.write(self.sock.recv(65536))

    def _flush(self) -> None:
        if data := self.outgoing.read():
            self.sock.sendall(data)


async def _client_hello(pki: Pki) -> bytes:
    """A real ClientHello's bytes, from a memory-BIO client."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = pki.client().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


async def test_a_stop_waits_for_a_handshake_under_way_and_answers_its_request(
    served: Callable[..., Awaitable[Served]], pki: Pki
) -> None:
    """Accepted before the stop, its handshake ends after it: the first request is answered
    (with Connection: close) and the stop waits for that rather than cutting it."""
    edge = await served(Limits())
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = pki.client().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    writer.write(outgoing.read())  # the ClientHello; the rest of the handshake waits
    await asyncio.wait_for(Watched.accepted.wait(), 5)
    stop = asyncio.ensure_future(edge.server.stop(grace_s=10))
    await asyncio.sleep(0)  # the stop has begun: no more accepting
    assert edge.server.stopping and not stop.done() and edge.server.handshaking
    while True:  # the server's flight, then our Finished
        incoming.write(await asyncio.wait_for(reader.read(65536), 5))
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            continue
    tls.write(b"GET /p.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    writer.write(outgoing.read())
    got = b""
    while b"#EXT-X-ENDLIST" not in got:
        incoming.write(await asyncio.wait_for(reader.read(65536), 5))
        with contextlib.suppress(ssl.SSLWantReadError):
            got += tls.read(65536)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in got
    await asyncio.wait_for(stop, 5)
    writer.close()
