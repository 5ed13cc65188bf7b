"""Operator endpoints: purge. Off unless an admin token is configured; the token comes as
`Authorization: Bearer <token>` (RFC 6750 2.1), and only loopback peers are heard unless the
operator says otherwise (DESIGN, Security)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from edge.cache.cache import EdgeCache
from edge.cache.keys import cache_key
from edge.errors import RequestError
from edge.http.messages import Answer, Request

Found = list[dict[str, Any]]


class Admin:
    def __init__(
        self,
        cache: EdgeCache,
        token: str,
        remote_allowed: bool,
        keep_query: frozenset[str],
        *,
        node_purge: Callable[[str, bool], Awaitable[int]] | None = None,
        viewers: Callable[[str, str], Found | Awaitable[Found]] | None = None,
    ) -> None:
        self.viewers_lookup = viewers  # None: viewer sessions are off
        self.cache = cache
        self.node_purge = node_purge  # a worker of a node: every worker forgets it
        self.keep_query = keep_query
        self.token = token
        self.remote_allowed = remote_allowed

    def purge(self, request: Request) -> Answer | Awaitable[Answer]:
        """POST {"path": "/vod/x/master.m3u8"} or {"prefix": "/vod/x/"}: forget those objects."""
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        try:
            order = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return _answer(400, {"error": "body must be JSON"})
        if not isinstance(order, dict) or sum(k in order for k in ("path", "prefix")) != 1:
            return _answer(400, {"error": 'give exactly one of "path" or "prefix"'})
        target = order.get("path") or order.get("prefix")
        if not isinstance(target, str) or not target.startswith("/"):
            return _answer(400, {"error": "path and prefix are absolute paths"})
        try:
            name = str(cache_key(target, self.keep_query))
        except RequestError as exc:
            return _answer(400, {"error": exc.reason})
        prefix = "prefix" in order
        if self.node_purge is not None:
            return self._node_purge(self.node_purge(name, prefix))
        return _answer(200, {"purged": len(self.cache.purged(name, prefix))})

    def viewers(self, request: Request) -> Answer | Awaitable[Answer]:
        """GET /_admin/viewers?client=ADDRESS or ?sid=ID: one viewer's sessions (support)."""
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if self.viewers_lookup is None:
            return _answer(404, {"error": "viewer sessions are off (viewers = false)"})
        asked = parse_qs(request.target.partition("?")[2])
        client = asked.get("client", [""])[0]
        sid = asked.get("sid", [""])[0]
        if bool(client) == bool(sid):
            return _answer(400, {"error": "give exactly one of client=ADDRESS or sid=ID"})
        if client:
            try:
                client = str(ipaddress.ip_address(client))
            except ValueError:
                return _answer(400, {"error": f"client {client[:64]!r} is not an IP address"})
        if len(sid) > 64:
            return _answer(400, {"error": "sid is at most 64 characters (CTA-5004)"})
        found = self.viewers_lookup(client, sid)
        asked_for: dict[str, object] = {"client": client or None, "sid": sid or None}
        if isinstance(found, list):
            return _answer(200, {**asked_for, "sessions": found})
        return self._node_lookup(asked_for, found)

    async def _node_lookup(self, asked_for: dict[str, object], found: Awaitable[Found]) -> Answer:
        try:
            return _answer(200, {**asked_for, "sessions": await found})
        except TimeoutError:
            return _answer(503, {"error": "the node's workers did not answer in time"})

    async def _node_purge(self, purged: Awaitable[int]) -> Answer:
        try:
            return _answer(200, {"purged": await purged})
        except TimeoutError:
            return _answer(503, {"error": "the node's workers did not answer in time"})

    def _refusal(self, request: Request) -> Answer | None:
        if not self.token:
            return _answer(404, {"error": "admin endpoints are off (no admin_token)"})
        if not self.remote_allowed and not _is_loopback(request.peer):
            return _answer(403, {"error": "admin endpoints answer loopback peers only"})
        given = request.headers.get("authorization", "")
        expected = f"Bearer {self.token}".encode()
        if not hmac.compare_digest(given.encode("latin-1"), expected):
            return _answer(
                401,
                {"error": "missing or wrong bearer token"},
                b'WWW-Authenticate: Bearer realm="classcast-edge"\r\n',
            )
        return None


def _is_loopback(peer: str | None) -> bool:
    try:
        return peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def _answer(status: int, body: dict[str, object], extra: bytes = b"") -> Answer:
    head = b"Content-Type: application/json\r\nCache-Control: no-store\r\n" + extra
    return Answer(status, head, orjson.dumps(body))
