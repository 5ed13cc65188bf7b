"""The edge's only router: a few exact paths for operators, everything else is content.

In production it sits behind aiohttp's low-level `web.Server`, not an `Application`: the
Application's router, match info and handler plumbing cost about a quarter of the CPU of a hot
playlist hit (BENCHMARKS.md, "low-level server"). Tests drive the same dispatcher through an
Application with one catch-all route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class Dispatcher:
    def __init__(self, content: Handler, exact: Mapping[str, tuple[str, Handler]]) -> None:
        self.content = content
        self.exact = dict(exact)  # path -> (method, handler)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        route = self.exact.get(request.path)
        if route is None:
            return await self.content(request)
        method, handler = route
        if request.method == method or (method == "GET" and request.method == "HEAD"):
            return await handler(request)
        return web.Response(status=405, text=f"use {method}\n", headers={"Allow": method})
