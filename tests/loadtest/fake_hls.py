"""A tiny HLS server for harness tests: a live channel sliding with the clock, a recorded lesson,
byte segments, an X-Cache header, and a count of every request it answered."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from aiohttp import web

from tests.loadtest.builders import master_playlist
from tests.support.process import free_port

LADDER = [("180p", 300_000), ("360p", 560_000)]


def kind_of(path: str) -> str:
    if path.endswith("master.m3u8"):
        return "master"
    return "playlist" if path.endswith(".m3u8") else "segment"


class FakeHls:
    def __init__(
        self,
        segment_s: int = 1,
        window: int = 6,
        vod_segments: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.segment_s = segment_s
        self.window = window
        self.vod_segments = vod_segments
        self.clock = clock
        self.epoch = clock() - window * segment_s  # a full window is there from the start
        self.counts: Counter[str] = Counter()
        self.seen: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/live/{channel}/master.m3u8", self.master)
        app.router.add_get("/live/{channel}/{rendition}/index.m3u8", self.live_playlist)
        app.router.add_get("/vod/{lesson}/master.m3u8", self.master)
        app.router.add_get("/vod/{lesson}/{rendition}/index.m3u8", self.vod_playlist)
        app.router.add_get("/vod/{lesson}/{rendition}/{segment}", self.segment)
        return app

    def by_kind(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for path, count in self.counts.items():
            kinds[kind_of(path)] += count
        return kinds

    def _answer(self, request: web.Request, body: bytes, content_type: str) -> web.Response:
        self.counts[request.path] += 1
        cache = "HIT" if request.path in self.seen else "MISS"
        self.seen.add(request.path)
        return web.Response(body=body, content_type=content_type, headers={"X-Cache": cache})

    async def master(self, request: web.Request) -> web.Response:
        return self._answer(
            request, master_playlist(LADDER).encode(), "application/vnd.apple.mpegurl"
        )

    async def live_playlist(self, request: web.Request) -> web.Response:
        channel, rendition = request.match_info["channel"], request.match_info["rendition"]
        newest = int((self.clock() - self.epoch) / self.segment_s) - 1
        first = newest - self.window + 1
        lines = [
            "#EXTM3U",
            f"#EXT-X-TARGETDURATION:{self.segment_s}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        for sequence in range(first, newest + 1):
            lines += [
                f"#EXTINF:{self.segment_s}.000,",
                f"/vod/{channel}/{rendition}/seg_{sequence:05d}.ts",
            ]
        body = ("\n".join(lines) + "\n").encode()
        return self._answer(request, body, "application/vnd.apple.mpegurl")

    async def vod_playlist(self, request: web.Request) -> web.Response:
        lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{self.segment_s}", "#EXT-X-MEDIA-SEQUENCE:0"]
        for sequence in range(self.vod_segments):
            lines += [f"#EXTINF:{self.segment_s}.000,", f"seg_{sequence:05d}.ts"]
        lines.append("#EXT-X-ENDLIST")
        return self._answer(
            request, ("\n".join(lines) + "\n").encode(), "application/vnd.apple.mpegurl"
        )

    async def segment(self, request: web.Request) -> web.Response:
        bandwidth = dict(LADDER).get(request.match_info["rendition"], 300_000)
        size = bandwidth * self.segment_s // 8
        return self._answer(request, b"\x47" * size, "video/mp2t")


@contextlib.contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    """Serve `app` on loopback from its own thread and event loop; yields the base URL."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
