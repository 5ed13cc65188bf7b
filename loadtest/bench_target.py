"""A lightweight static HLS server for measuring the harness itself, not a server.

`python -m loadtest.bench_target --port 8099` serves one synthetic live channel from memory:
`/live/bench/master.m3u8`, media playlists sliding with the wall clock (4 s segments, six in the
window) and segments of exactly the rendition's byte size. It is a bare asyncio protocol on
uvloop (keep-alive HTTP/1.1, GET only) so that the harness, not the target, is what runs out of
CPU first on a shared machine. It prints its request count and CPU seconds when stopped.

`--lesson content/math-fractions` serves a sample lesson's real renditions and segment bytes
instead, looped as a live channel (segment n of the channel is the lesson's segment n mod count).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import time
from pathlib import Path
from typing import cast

import uvloop

SEGMENT_S = 4
WINDOW = 6
LADDER = {"180p": 300_000, "360p": 560_000}
PLAYLIST_TYPE = b"application/vnd.apple.mpegurl"


def master() -> bytes:
    lines = ["#EXTM3U"]
    for name, bandwidth in LADDER.items():
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}", f"{name}/index.m3u8"]
    return ("\n".join(lines) + "\n").encode()


def media(rendition: str, now: float) -> bytes:
    """RFC 8216 section 4.3.3.2: the media sequence counts segments since the channel's epoch."""
    newest = int(now // SEGMENT_S) - 1
    first = newest - WINDOW + 1
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{SEGMENT_S}", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for sequence in range(first, newest + 1):
        lines += [f"#EXTINF:{SEGMENT_S}.000,", f"/live/bench/{rendition}/seg_{sequence}.ts"]
    return ("\n".join(lines) + "\n").encode()


SEGMENTS = {name: [b"\x47" * (bandwidth * SEGMENT_S // 8)] for name, bandwidth in LADDER.items()}


def load_lesson(lesson: Path) -> None:
    """Serve `lesson`'s renditions (names and BANDWIDTH from its master playlist) and bytes."""
    master_text = (lesson / "master.m3u8").read_text()
    ladder = re.findall(r"BANDWIDTH=(\d+).*\n([^/\n]+)/index\.m3u8", master_text)
    if not ladder:
        raise SystemExit(f"bench_target: no renditions in {lesson / 'master.m3u8'}")
    LADDER.clear()
    SEGMENTS.clear()
    for bandwidth, name in ladder:
        LADDER[name] = int(bandwidth)
        SEGMENTS[name] = [path.read_bytes() for path in sorted((lesson / name).glob("*.ts"))]


def answer(path: str) -> tuple[bytes, bytes, int]:
    parts = path.split("?")[0].strip("/").split("/")
    if parts[-1] == "master.m3u8":
        return master(), PLAYLIST_TYPE, 200
    if len(parts) == 4 and parts[2] in LADDER:
        if parts[3] == "index.m3u8":
            return media(parts[2], time.time()), PLAYLIST_TYPE, 200
        if parts[3].endswith(".ts"):
            segments = SEGMENTS[parts[2]]
            number = parts[3].removeprefix("seg_").removesuffix(".ts")
            if number.lstrip("-").isdigit():
                return segments[int(number) % len(segments)], b"video/mp2t", 200
    return b"not found\n", b"text/plain", 404


class HttpProtocol(asyncio.Protocol):
    requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            body, kind, status = answer(path)
            HttpProtocol.requests += 1
            reason = b"OK" if status == 200 else b"Not Found"
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Cache: HIT\r\n"
                b"Cache-Control: max-age=1\r\n\r\n" % (status, reason, kind, len(body))
            )
            if method != "HEAD":
                self.transport.write(body)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HttpProtocol, host, port, backlog=4096)
    stopped = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    print(f"bench target on http://{host}:{port}/live/bench/master.m3u8", flush=True)
    await stopped.wait()
    server.close()
    times = os.times()
    print(f"requests {HttpProtocol.requests} cpu_s {times.user + times.system:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--lesson", type=Path, help="serve this lesson folder's renditions")
    args = parser.parse_args()
    if args.lesson is not None:
        load_lesson(args.lesson)
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
