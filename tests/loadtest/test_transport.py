"""The viewers' HTTP client against real servers: the in-test HLS server, a scripted raw server
for what well-behaved servers never do, the edge as a real process, and nginx when installed.

Every test runs on uvloop, the loop the harness runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from loadtest.edgebench.nginx import nginx_command
from loadtest.errors import TransportError
from loadtest.playlist import parse_master
from loadtest.transport import MAX_REDIRECTS, HttpClient, ViewerConnections
from tests.loadtest.fake_hls import FakeHls, serve_in_thread
from tests.support.process import ROOT, free_port, origin_and_edge, stop, wait_ready

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SEGMENT_180P_1S = 300_000 // 8  # fake_hls: bandwidth x 1 s segments / 8


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(asyncio.wait_for(coroutine, timeout=30))


@contextlib.asynccontextmanager
async def using(timeout_s: float = 5.0) -> AsyncIterator[tuple[HttpClient, ViewerConnections]]:
    """A client and one viewer's connections, closed at the end (servers wait for them)."""
    client = HttpClient(time.monotonic, read_timeout_s=timeout_s)
    viewer = client.connections()
    try:
        yield client, viewer
    finally:
        viewer.close()
        await client.close()


class ScriptedServer:
    """A raw TCP server on its own thread and loop: each connection runs `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()
            self.tasks.discard(task)

    async def _shut(self, server: asyncio.Server) -> None:
        server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await server.wait_closed()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        loop = asyncio.new_event_loop()
        port = free_port()
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", port))
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            asyncio.run_coroutine_threadsafe(self._shut(server), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.run_until_complete(asyncio.sleep(0))  # let closed transports finish closing
            loop.close()


async def read_request(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    return head.split(b" ", 2)[1].decode()


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


# -- the in-test HLS server ------------------------------------------------------------------


def test_byte_counts_ttfb_cache_and_bodies_against_the_hls_server() -> None:
    fake = FakeHls()

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            started = time.monotonic()
            master = await viewer.get(base + "/vod/lesson/master.m3u8", keep_body=True)
            assert master.body is not None and master.size == len(master.body)
            assert [v.name for v in parse_master(master.body.decode(), master.url)] == [
                "180p",
                "360p",
            ]
            segment_url = base + "/vod/lesson/180p/seg_00000.ts"
            first = await viewer.get(segment_url, keep_body=False)
            again = await viewer.get(segment_url, keep_body=False)
            finished = time.monotonic()
            assert (first.status, first.size, first.body, first.cache) == (
                200,
                SEGMENT_180P_1S,
                None,
                "MISS",
            )
            assert (again.size, again.cache) == (SEGMENT_180P_1S, "HIT")
            assert started < master.first_byte <= first.first_byte <= again.first_byte < finished
            assert client.connections_opened == 1  # one keep-alive connection for all three
            viewer.close()
            await client.close()

    with serve_in_thread(fake.app()) as base:
        run(scenario(base))
    assert fake.by_kind() == {"master": 1, "segment": 2}


def test_a_missing_object_is_an_http_status_not_a_transport_error() -> None:
    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            missing = await viewer.get(base + "/nowhere.m3u8", keep_body=True)
            assert missing.status == 404 and missing.body is not None
            assert (await viewer.get(base + "/vod/l/master.m3u8", keep_body=True)).status == 200
            assert client.connections_opened == 1

    with serve_in_thread(FakeHls().app()) as base:
        run(scenario(base))


# -- scripted servers: keep-alive, closes, chunked, stalls, redirects, garbage ---------------


def test_keep_alive_reuses_one_connection_for_many_requests() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b"x" * 5000))

    server = ScriptedServer(handler)

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            sizes = [(await viewer.get(base + "/s.ts", keep_body=False)).size for _ in range(20)]
            assert sizes == [5000] * 20 and client.connections_opened == 1

    with server.running() as base:
        run(scenario(base))
    assert server.connections == 1


def test_a_throttled_body_that_comes_in_one_read_is_still_held_to_its_rate() -> None:
    """A phone at 400 kbit/s takes 0.4 s for 20 kB, even if the bytes arrive at once."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b"x" * 20_000))

    server = ScriptedServer(handler)

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            for _ in range(2):  # held, then the kept-alive connection is used again
                started = time.monotonic()
                got = await viewer.get(base + "/s.ts", keep_body=False, rate_of=lambda _: 400_000)
                assert got.size == 20_000 and time.monotonic() - started >= 0.39
            unthrottled = await viewer.get(base + "/s.ts", keep_body=False)
            assert unthrottled.size == 20_000 and client.connections_opened == 1

    with server.running() as base:
        run(scenario(base))


def test_connection_close_is_honoured_and_a_new_connection_opened() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"y" * 100, b"Connection: close\r\n"))
        await writer.drain()

    server = ScriptedServer(handler)

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            for _ in range(3):
                assert (await viewer.get(base + "/a.ts", keep_body=False)).size == 100
            assert client.connections_opened == 3

    with server.running() as base:
        run(scenario(base))
    assert server.connections == 3


def test_a_kept_alive_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"z" * 10))  # says keep-alive...
        await writer.drain()
        await read_request(reader)  # ...then hangs up on the next request without a byte

    server = ScriptedServer(handler)

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            assert (await viewer.get(base + "/1.ts", keep_body=False)).size == 10
            assert (await viewer.get(base + "/2.ts", keep_body=False)).size == 10
            assert client.connections_opened == 2

    with server.running() as base:
        run(scenario(base))


def test_a_connection_closed_mid_body_fails_the_request() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"q" * 30_000)
        await writer.drain()

    async def scenario(base: str) -> None:
        async with using() as (_, viewer):
            with pytest.raises(TransportError, match="closed mid-answer"):
                await viewer.get(base + "/cut.ts", keep_body=False)

    with ScriptedServer(handler).running() as base:
        run(scenario(base))


@pytest.mark.parametrize("keep_body", [False, True], ids=["segment", "playlist"])
def test_chunked_bodies_are_counted_and_kept(keep_body: bool) -> None:
    parts = [b"a" * 7, b"b" * 70_000, b"c" * 1]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Cache: HIT\r\n\r\n")
            for part in parts:
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            for _ in range(2):
                got = await viewer.get(base + "/c", keep_body=keep_body)
                assert (got.size, got.cache) == (70_008, "HIT")
                assert got.body == (b"".join(parts) if keep_body else None)
            assert client.connections_opened == 1

    with ScriptedServer(handler).running() as base:
        run(scenario(base))


def test_a_body_that_runs_until_close_is_complete_at_close() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + b"e" * 12_345)
        await writer.drain()

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            for _ in range(2):
                assert (await viewer.get(base + "/old.ts", keep_body=False)).size == 12_345
            assert client.connections_opened == 2  # HTTP/1.0 without keep-alive: never reused

    with ScriptedServer(handler).running() as base:
        run(scenario(base))


def test_a_stalled_body_times_out_after_the_read_timeout() -> None:
    release = threading.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"s" * 1000)
        await writer.drain()
        await asyncio.to_thread(release.wait)  # hold the connection open, sending nothing

    async def scenario(base: str) -> float:
        async with using(timeout_s=0.4) as (client, viewer):
            started = time.monotonic()
            with pytest.raises(TransportError, match="read timeout"):
                await viewer.get(base + "/stall.ts", keep_body=False)
            await client.close()
            return time.monotonic() - started

    with ScriptedServer(handler).running() as base:
        try:
            waited = run(scenario(base))
        finally:
            release.set()
    assert waited >= 0.4  # not given up before the timeout (the deadline above bounds it)


def test_redirects_are_followed_as_players_do_and_the_final_url_reported() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            path = await read_request(reader)
            if path == "/moved/master.m3u8":
                writer.write(
                    b"HTTP/1.1 302 Found\r\nLocation: /live/master.m3u8\r\n"
                    b"Content-Length: 5\r\n\r\nmoved"
                )
            elif path == "/loop":
                writer.write(
                    b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /loop\r\n"
                    b"Content-Length: 0\r\n\r\n"
                )
            else:
                writer.write(answer(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n"))

    server = ScriptedServer(handler)

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            got = await viewer.get(base + "/moved/master.m3u8", keep_body=True)
            assert got.status == 200 and got.url == base + "/live/master.m3u8"
            assert got.body is not None
            [variant] = parse_master(got.body.decode(), got.url)
            assert variant.url == base + "/live/low/index.m3u8"  # relative to where it came from
            with pytest.raises(TransportError, match=f"more than {MAX_REDIRECTS} redirects"):
                await viewer.get(base + "/loop", keep_body=False)
            assert client.connections_opened == 1

    with server.running() as base:
        run(scenario(base))


@pytest.mark.parametrize(
    ("wire", "split", "message"),
    [
        (b"SPDY/9 200 OK\r\n\r\n", False, "bad HTTP response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", False, "more than Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", True, "more than Content-Length"),
    ],
    ids=["garbage", "too-long-one-read", "too-long-head-first"],
)
def test_a_garbled_answer_is_a_transport_error(wire: bytes, split: bool, message: str) -> None:
    release = threading.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if split:  # the head alone first, then the body
            head, _, body = wire.partition(b"\r\n\r\n")
            writer.write(head + b"\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(body)
        else:
            writer.write(wire)
        await asyncio.to_thread(release.wait)

    async def scenario(base: str) -> None:
        async with using() as (_, viewer):
            with pytest.raises(TransportError, match=message):
                await viewer.get(base + "/x.ts", keep_body=False)

    with ScriptedServer(handler).running() as base:
        try:
            run(scenario(base))
        finally:
            release.set()


def test_a_refused_connection_and_a_bad_url_are_transport_errors() -> None:
    async def scenario() -> None:
        async with using() as (_, viewer):
            with pytest.raises(TransportError, match=r"connect to 127\.0\.0\.1"):
                await viewer.get(f"http://127.0.0.1:{free_port()}/x.ts", keep_body=False)
            with pytest.raises(TransportError, match="not an http"):
                await viewer.get("ftp://127.0.0.1/x.ts", keep_body=False)

    run(scenario())


# -- real servers as processes: the edge, nginx ----------------------------------------------


def lesson_segment(rendition: str, name: str) -> bytes:
    return (ROOT / "content" / "math-fractions" / rendition / name).read_bytes()


@pytest.mark.e2e
def test_against_the_edge_process(tmp_path: Path) -> None:

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            master = await viewer.get(base + "/vod/math-fractions/master.m3u8", keep_body=True)
            assert master.status == 200 and master.body is not None
            names = [v.name for v in parse_master(master.body.decode(), master.url)]
            assert set(names) == {"180p", "360p"}
            url = base + "/vod/math-fractions/360p/seg_00001.ts"
            first = await viewer.get(url, keep_body=False)
            again = await viewer.get(url, keep_body=False)
            expected = len(lesson_segment("360p", "seg_00001.ts"))
            assert (first.status, first.size) == (200, expected)
            assert (again.size, again.cache) == (expected, "HIT")
            assert client.connections_opened == 1

    with origin_and_edge(tmp_path) as (_, edge):
        run(scenario(edge.url))


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_against_nginx(tmp_path: Path) -> None:
    fake = FakeHls()
    port = free_port()

    async def scenario(base: str) -> None:
        async with using() as (client, viewer):
            for _ in range(3):
                got = await viewer.get(base + "/vod/l/360p/seg_00002.ts", keep_body=False)
                assert (got.status, got.size) == (200, 560_000 // 8)
            assert client.connections_opened == 1

    with serve_in_thread(fake.app()) as upstream:
        command = nginx_command(tmp_path, port, upstream)
        assert command is not None
        log = tmp_path / "nginx.out"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}", process, log)
            run(scenario(f"http://127.0.0.1:{port}"))
        finally:
            stop(process)
    assert fake.by_kind()["segment"] == 1  # nginx cached it: the harness counted cache hits


def test_a_head_split_before_its_blank_line_still_counts_the_body_exactly() -> None:
    body = b"ab\r\n\r\ncd" + b"x" * 50_000  # a blank line in the body's first bytes, too

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body))
            await writer.drain()
            await asyncio.sleep(0.05)  # the head's last CRLF arrives with the body
            writer.write(b"\r\n" + body)

    async def scenario(base: str) -> None:
        async with using(timeout_s=2.0) as (client, viewer):
            for _ in range(2):
                assert (await viewer.get(base + "/split.ts", keep_body=False)).size == len(body)
            assert client.connections_opened == 1  # and the connection stayed in step

    with ScriptedServer(handler).running() as base:
        run(scenario(base))
