"""The edge's only router: a few exact paths for operators, everything else is content."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from edge.http.heads import HeadBuilder
from edge.http.messages import AnyAnswer, Handler, Held, Request

Route = Callable[[Request], "AnyAnswer | Awaitable[AnyAnswer]"]


class Dispatcher:
    def __init__(
        self, content: Handler, exact: Mapping[str, tuple[str, Route]], heads: HeadBuilder
    ) -> None:
        self.content = content
        self.exact = dict(exact)  # path -> (method, handler)
        self.heads = heads

    def handle(self, request: Request) -> AnyAnswer | Held | Awaitable[AnyAnswer]:
        target = request.target
        route = self.exact.get(target)  # one dict miss on the content hot path
        if route is None and "?" in target:
            route = self.exact.get(target.partition("?")[0])
        if route is None:
            return self.content(request)
        method, handler = route
        if request.method == method or (method == "GET" and request.method == "HEAD"):
            return handler(request)
        return self.heads.error(405, f"use {method}", {"Allow": method})
