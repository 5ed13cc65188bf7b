"""Where the Python part of an edge hit goes, with no socket and no syscall in the way.

    .venv/bin/python scripts/hit_cost.py [--requests 100000]

Starts a real edge in-process in front of a tiny in-process upstream, fills one playlist, then
times (1) httptools parsing a request, (2) the dispatcher and content handler answering it and
(3) one connection's whole `data_received` (parse, handler, head, access bookkeeping) on a fake
transport that drops what it is given, without and with the viewers' observer (issue 19).
BENCHMARKS.md, "Where a playlist hit's time goes".
"""

from __future__ import annotations

import argparse
import gc
import timeit
from typing import Any

import uvloop
from aiohttp import web

from edge.app import running_edge
from edge.config import build
from edge.http.messages import Request
from edge.http.protocol import Connection

PATH = "/vod/lesson/360p/index.m3u8"
PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n" + b"#EXTINF:4.0,\nseg.ts\n" * 10
WIRE = f"GET {PATH} HTTP/1.1\r\nHost: localhost:8081\r\nUser-Agent: stb/1.0\r\n\r\n".encode()


class NullTransport:
    """Takes every write and says its buffer is empty: only Python work is left to time."""

    def write(self, data: bytes) -> None:
        return None

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


async def upstream() -> web.AppRunner:
    app = web.Application()

    async def playlist(request: web.Request) -> web.Response:
        headers = {"Content-Type": "application/vnd.apple.mpegurl", "ETag": '"p1"'}
        return web.Response(body=PLAYLIST + b"#EXT-X-ENDLIST\n", headers=headers)

    app.router.add_get(PATH, playlist)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def per_call_us(fn: Any, count: int) -> float:
    return timeit.timeit(fn, number=count) / count * 1e6


async def main(count: int) -> None:
    runner = await upstream()
    port = runner.addresses[0][1]
    config = build({"upstreams": [f"http://127.0.0.1:{port}"], "port": 0, "rate_per_client": 0})
    async with running_edge(config) as edge:
        fill = edge.handler.handle(Request("GET", PATH, {}))
        assert not isinstance(fill, tuple)
        await fill  # type: ignore[misc]
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)  # as `python -m edge serve` runs (tune_gc)
        connection = Connection(edge.server)
        connection.connection_made(NullTransport())  # type: ignore[arg-type]
        request = Request("GET", PATH, {"host": "localhost:8081"}, peer="127.0.0.1")

        def parse() -> None:
            connection.parser.feed_data(WIRE)
            connection.queue.clear()

        edge.server.access_log = None
        print(f"httptools parse + callbacks   {per_call_us(parse, count):6.2f} µs")
        handle = edge.server.handler
        print(
            f"dispatcher + content handler  {per_call_us(lambda: handle(request), count):6.2f} µs"
        )
        observer = edge.server.observer
        edge.server.observer = None
        whole = per_call_us(lambda: connection.data_received(WIRE), count)
        print(f"whole data_received, no log   {whole:6.2f} µs")
        if observer is not None:  # the viewer bookkeeping of a keep-alive viewer's reload
            edge.server.observer = observer
            seen = per_call_us(lambda: connection.data_received(WIRE), count)
            print(f"  with viewers on             {seen:6.2f} µs  ({seen / whole:.3f}x)")
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    uvloop.run(main(parser.parse_args().requests))
