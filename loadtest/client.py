"""The I/O half of a viewer: ask the model what to fetch, fetch it, tell the model.

Each viewer runs two lanes (playlists, segments), like a real player, over the viewer's own
keep-alive connections (`loadtest/transport.py`). A lane that has nothing to do sleeps until the
model's deadline or until the other lane pokes it with news.
"""

from __future__ import annotations

import asyncio

from classcast.clock import Clock
from loadtest.errors import TransportError
from loadtest.metrics import Recorder, RequestRecord
from loadtest.models.actions import Fetch, Lane, Response, Stop, Wait
from loadtest.models.session import ViewerSession
from loadtest.transport import HttpClient, ViewerConnections

IDLE_WAIT_S = 3600.0  # a lane waiting for news with no deadline still wakes up eventually


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
    """Performs one Fetch on the viewer's connections and records the request."""

    def __init__(self, http: HttpClient, recorder: Recorder, clock: Clock, run_started: float):
        self.http = http
        self.recorder = recorder
        self.clock = clock
        self.run_started = run_started

    async def fetch(
        self, fetch: Fetch, viewer: ViewerSession, connections: ViewerConnections
    ) -> Response:
        started = self.clock()
        keep_body = fetch.kind != "segment"
        # Only throttled viewers (phones) pay for a clock reading per received chunk.
        rate_of = viewer.read_rate if viewer.read_rate(started) is not None else None
        try:
            cmcd = viewer.cmcd(fetch, started)
            answer = await connections.get(fetch.url, keep_body, rate_of, query=cmcd)
        except TransportError:
            answer = None
        finished = self.clock()
        if answer is None:
            status, ttfb, size, cache, body, url = 0, 0.0, 0, "", None, None
        else:
            status, size, cache = answer.status, answer.size, answer.cache
            ttfb = answer.first_byte - started
            body = answer.body.decode("utf-8", "replace") if answer.body is not None else None
            url = answer.url if answer.url != fetch.url else None
        self.recorder.record_request(
            RequestRecord(
                fetch.kind,
                viewer.cohort,
                fetch.url,
                status,
                started - self.run_started,
                ttfb,
                finished - started,
                size,
                cache,
                fetch.duration,
            )
        )
        return Response(status, started, finished, size, body, url)


async def play(viewer: ViewerSession, fetcher: Fetcher, clock: Clock, stop: StopSignal) -> None:
    """Run one session until the model stops (recording ended, start failed) or the run does."""
    wakers: dict[Lane, Waker] = {"playlist": Waker(), "segment": Waker()}
    stop.wakers.update(wakers.values())
    connections = fetcher.http.connections(viewer.source)
    playlists = asyncio.create_task(
        _run_lane("playlist", viewer, fetcher, connections, clock, wakers, stop)
    )
    try:
        await _run_lane("segment", viewer, fetcher, connections, clock, wakers, stop)
        await playlists
    finally:
        playlists.cancel()
        connections.close()
        stop.wakers.difference_update(wakers.values())


async def _run_lane(
    lane: Lane,
    viewer: ViewerSession,
    fetcher: Fetcher,
    connections: ViewerConnections,
    clock: Clock,
    wakers: dict[Lane, Waker],
    stop: StopSignal,
) -> None:
    other = wakers["segment" if lane == "playlist" else "playlist"]
    while not stop.is_set:
        now = clock()
        action = viewer.next_action(lane, now)
        if isinstance(action, Stop):
            other.poke()
            return
        if isinstance(action, Wait):
            delay = IDLE_WAIT_S if action.until is None else action.until - now
            await wakers[lane].sleep(delay)
            continue
        response = await fetcher.fetch(action, viewer, connections)
        viewer.on_response(action, response, clock())
        other.poke()
