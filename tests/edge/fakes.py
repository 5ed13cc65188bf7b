"""A scripted upstream (a real HTTP server on loopback) and a clock the tests move by hand."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from classcast.clock import FakeClock as FakeClock  # re-exported for the tests
from edge.app import Edge, running_edge
from edge.cache.cache import EdgeCache
from edge.cache.flight import Fill
from edge.cache.stats import Stats
from edge.config import EdgeConfig
from edge.http.server import ServerStats


@dataclass
class Scripted:
    """What the upstream answers for one path; tests change it between requests."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    gate: asyncio.Event | None = None  # when set: send the first half, wait for it, send the rest
    truncate: bool = False  # promise the full length, send half, then drop the connection
    honour_etag: bool = True  # answer If-None-Match with 304
    delay: float = 0.0  # seconds before answering at all
    chunked: bool = False  # no Content-Length: Transfer-Encoding: chunked


class ScriptedUpstream:
    def __init__(self) -> None:
        self.objects: dict[str, Scripted] = {}
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[CIMultiDict[str]] = []
        self._heard = asyncio.Condition()  # notified of every request, for `arrived`
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self.handle)

    def put(self, path: str, body: bytes = b"", **kwargs: object) -> Scripted:
        self.objects[path] = Scripted(body, **kwargs)  # type: ignore[arg-type]
        return self.objects[path]

    async def arrived(self, path_qs: str, count: int = 1, within: float = 5.0) -> None:
        """Wait until the upstream has been asked for `path_qs` `count` times in all."""
        async with asyncio.timeout(within), self._heard:
            await self._heard.wait_for(lambda: self.hits[path_qs] >= count)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path_qs] += 1
        self.seen_headers.append(CIMultiDict(request.headers))
        async with self._heard:
            self._heard.notify_all()
        obj = self.objects.get(request.path_qs) or self.objects.get(request.path)
        if obj is None:
            return web.Response(status=404, text="no such object")
        if obj.delay:
            await asyncio.sleep(obj.delay)
        headers = dict(obj.headers)
        etag = headers.get("ETag")
        if obj.honour_etag and etag and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        response = web.StreamResponse(status=obj.status, headers=headers)
        if obj.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(obj.body)
        await response.prepare(request)
        half = len(obj.body) // 2
        await response.write(obj.body[:half])
        if obj.truncate:
            await asyncio.sleep(0.05)
            assert request.transport is not None
            request.transport.close()
            return response
        if obj.gate is not None:
            await obj.gate.wait()
        await response.write(obj.body[half:])
        await response.write_eof()
        return response


async def raw_request(
    host: str, port: int, target: str, headers: str = "", method: str = "GET"
) -> tuple[int, bytes]:
    """Send a request line exactly as written (HTTP clients normalise `..` away)."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}"
    writer.write(request.encode("latin-1") + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def settle(edge: EdgeClient) -> None:
    """Wait until no fill runs: background refreshes, prefetches and disk commits are done."""
    async with asyncio.timeout(5):
        await edge.cache.fills.idle()
    assert not edge.cache.fills


class FillWaiters:
    """The requests that join and leave an edge's fills, told by the fills themselves, so a
    test awaits "every request joined" instead of sleeping on it (STYLE 13)."""

    def __init__(self, edge: EdgeClient) -> None:
        self.joins: Counter[str] = Counter()  # requests that joined a fill of each key so far
        self.waiting: Counter[str] = Counter()  # requests waiting on each key's fill now
        self._seen: dict[Fill, int] = {}
        self._changed = asyncio.Event()
        edge.cache.fills.on_waiters = self._told

    def _told(self, fill: Fill) -> None:
        key = str(fill.key)
        if fill.waiters > self._seen.get(fill, 0):
            self.joins[key] += 1
        self._seen[fill] = self.waiting[key] = fill.waiters
        self._changed.set()

    async def until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until `predicate` holds, asking again after each join or leave."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


def free_port_url() -> tuple[str, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}", port


class EdgeClient:
    """A real edge (its own HTTP server on a loopback port, in this process) and an aiohttp
    client for it: `await client.get(path)` as with aiohttp's TestClient."""

    def __init__(
        self, edge: Edge, session: aiohttp.ClientSession, stack: contextlib.AsyncExitStack
    ) -> None:
        self.edge = edge
        self.session = session
        self.responses: list[aiohttp.ClientResponse] = []
        self._stack = stack
        self.host = "127.0.0.1"
        self.port = edge.port

    @property
    def cache(self) -> EdgeCache:
        return self.edge.cache

    @property
    def stats(self) -> Stats:
        return self.edge.stats

    @property
    def sends(self) -> ServerStats:
        return self.edge.server.stats

    def make_url(self, path: str) -> URL:
        return URL(f"http://{self.host}:{self.port}{path}", encoded=True)

    async def request(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.session.request(method, self.make_url(path), **kwargs)
        self.responses.append(response)  # released at the end, as aiohttp's TestClient does
        return response

    async def close(self) -> None:
        """Stop this edge (as SIGTERM would) and its client; again is harmless."""
        for response in self.responses:
            response.close()
        await self._stack.aclose()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Any:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", path, **kwargs)


class EdgeClients:
    """Starts edges for a test and stops them all at its end."""

    def __init__(self) -> None:
        self.clients: list[EdgeClient] = []

    async def start(self, config: EdgeConfig, **kwargs: Any) -> EdgeClient:
        stack = contextlib.AsyncExitStack()
        edge = await stack.enter_async_context(running_edge(config, **kwargs))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        self.clients.append(EdgeClient(edge, session, stack))
        return self.clients[-1]

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
