"""The I/O half of a viewer: ask the model what to fetch, fetch it with aiohttp, tell the model.

Each viewer runs two lanes (playlists, segments), like a real player. A lane that has nothing to
do sleeps until the model's deadline or until the other lane pokes it with news.
"""

from __future__ import annotations

import asyncio
import functools

import aiohttp
from yarl import URL

from loadtest.bandwidth import throttle_delay
from loadtest.clock import Clock
from loadtest.metrics import Recorder, RequestRecord
from loadtest.models.actions import Fetch, Lane, Response, Stop, Wait
from loadtest.models.session import ViewerSession

URL_CACHE_SIZE = 4096
IDLE_WAIT_S = 3600.0  # a lane waiting for news with no deadline still wakes up eventually
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


# Thousands of viewers fetch the same few URLs; parsing each once spares yarl's work per request.
@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def parsed_url(url: str) -> URL:
    return URL(url)


class Waker:
    """A sleep that another task can cut short."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._future = future
        handle = loop.call_later(max(seconds, 0.0), _resolve, future)
        try:
            await future
        finally:
            handle.cancel()
            self._future = None

    def poke(self) -> None:
        if self._future is not None:
            _resolve(self._future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class StopSignal:
    """Set at the end of the run: lanes finish the request in hand and fetch nothing new."""

    def __init__(self) -> None:
        self.is_set = False
        self.wakers: set[Waker] = set()

    def set(self) -> None:
        self.is_set = True
        for waker in list(self.wakers):
            waker.poke()


class Fetcher:
    """Performs one Fetch: streams the body, counts bytes, throttles, records the request."""

    def __init__(
        self, http: aiohttp.ClientSession, recorder: Recorder, clock: Clock, run_started: float
    ) -> None:
        self.http = http
        self.recorder = recorder
        self.clock = clock
        self.run_started = run_started

    async def fetch(self, fetch: Fetch, viewer: ViewerSession) -> Response:
        started = self.clock.now()
        ttfb, status, size, body, cache = 0.0, 0, 0, None, ""
        try:
            async with self.http.get(parsed_url(fetch.url)) as answer:
                ttfb = self.clock.now() - started
                status, cache = answer.status, answer.headers.get("X-Cache", "")
                if fetch.kind == "segment" or not 200 <= status < 300:
                    size = await self._drain(answer, viewer)
                else:
                    raw = await answer.read()
                    size, body = len(raw), raw.decode("utf-8", "replace")
        except TRANSPORT_ERRORS:
            status = 0
        finished = self.clock.now()
        self.recorder.record_request(
            RequestRecord(
                fetch.kind, viewer.cohort, fetch.url, status, started - self.run_started,
                ttfb, finished - started, size, cache, fetch.duration,
            )
        )  # fmt: skip
        return Response(status, started, finished, size, body)

    async def _drain(self, answer: aiohttp.ClientResponse, viewer: ViewerSession) -> int:
        """Read and discard the body, pausing as needed to stay within the viewer's bandwidth."""
        size = 0
        body_started = self.clock.now()
        async for chunk in answer.content.iter_any():
            size += len(chunk)
            rate = viewer.read_rate(self.clock.now())
            if rate is not None:
                delay = throttle_delay(size, self.clock.now() - body_started, rate)
                if delay > 0:
                    await asyncio.sleep(delay)
        return size


async def play(viewer: ViewerSession, fetcher: Fetcher, clock: Clock, stop: StopSignal) -> None:
    """Run one session until the model stops (recording ended, start failed) or the run does."""
    wakers: dict[Lane, Waker] = {"playlist": Waker(), "segment": Waker()}
    stop.wakers.update(wakers.values())
    playlists = asyncio.create_task(_run_lane("playlist", viewer, fetcher, clock, wakers, stop))
    try:
        await _run_lane("segment", viewer, fetcher, clock, wakers, stop)
        await playlists
    finally:
        playlists.cancel()
        stop.wakers.difference_update(wakers.values())


async def _run_lane(
    lane: Lane,
    viewer: ViewerSession,
    fetcher: Fetcher,
    clock: Clock,
    wakers: dict[Lane, Waker],
    stop: StopSignal,
) -> None:
    other = wakers["segment" if lane == "playlist" else "playlist"]
    while not stop.is_set:
        now = clock.now()
        action = viewer.next_action(lane, now)
        if isinstance(action, Stop):
            other.poke()
            return
        if isinstance(action, Wait):
            delay = IDLE_WAIT_S if action.until is None else action.until - now
            await wakers[lane].sleep(delay)
            continue
        response = await fetcher.fetch(action, viewer)
        viewer.on_response(action, response, clock.now())
        other.poke()
