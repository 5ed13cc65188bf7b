"""python -m loadtest.idlebench --target URL [--idle 10000] [--requests 2000]

Does a crowd of idle keep-alive connections slow a real viewer? Measures one viewer's
request latency (sequential requests on one keep-alive connection) with no idle connections,
then with `--idle` connections that each asked once and now wait, in the same run. Loopback
only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import time
from urllib.parse import urlsplit

LOOPBACK = ("127.", "localhost", "[::1]", "::1")


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


async def viewer_latencies(host: str, port: int, request: bytes, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection(host, port)
    took = []
    for _ in range(count):
        started = time.perf_counter()
        await ask(reader, writer, request)
        took.append(time.perf_counter() - started)
    writer.close()
    return took


async def open_idle(host: str, port: int, request: bytes, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for start in range(0, count, 500):  # in waves, as a city's boxes wake up
        pairs = await asyncio.gather(
            *(asyncio.open_connection(host, port) for _ in range(min(500, count - start)))
        )
        await asyncio.gather(*(ask(r, w, request) for r, w in pairs))
        writers += [w for _, w in pairs]
    return writers


def summary(took: list[float]) -> str:
    ordered = sorted(took)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.3f} ms  p99 {p99 * 1000:.3f} ms"


async def run(target: str, idle: int, requests: int) -> None:
    parts = urlsplit(target)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if not host.startswith(LOOPBACK):
        raise SystemExit("idlebench: loopback targets only")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    alone = await viewer_latencies(host, port, request, requests)
    print(f"viewer alone:              {summary(alone)}", flush=True)
    writers = await open_idle(host, port, request, idle)
    print(f"{len(writers)} idle keep-alive connections open", flush=True)
    crowded = await viewer_latencies(host, port, request, requests)
    print(f"viewer beside {idle} idle: {summary(crowded)}", flush=True)
    for writer in writers:
        writer.close()
    with contextlib.suppress(Exception):
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.idlebench", description=__doc__)
    parser.add_argument("--target", required=True, help="a playlist URL on a loopback edge")
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(asyncio.wait_for(run(args.target, args.idle, args.requests), 300))


if __name__ == "__main__":
    main()
