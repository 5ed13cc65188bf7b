"""Unsafe methods (POST, PUT, DELETE, PATCH, ...): passed to the upstream uncached, the answer
streamed back, and the URLs RFC 9111 4.4 names invalidated once the upstream said yes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp

from edge.cache.describe import HOP_BY_HOP
from edge.cache.keys import CacheKey, cache_key
from edge.cache.upstream import Upstream
from edge.errors import RequestError, UpstreamError
from edge.http.heads import HeadBuilder, lines
from edge.http.messages import Answer, AnyAnswer, FileRange, Request, StreamAnswer

READ_CHUNK = 64 * 1024
MAX_BUFFERED_BYTES = 16 * 1024**2  # an answer without Content-Length is read whole, up to this
# Fields of the upstream's answer the edge writes itself
WRITTEN_HERE = HOP_BY_HOP | {
    "content-length",
    "date",
    "via",
    "access-control-allow-origin",
    "access-control-expose-headers",
}
NO_BODY = frozenset({204, 304})

Invalidate = Callable[[list[str]], Awaitable[None]]


def answer_fields(response: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    listed = {t.strip().lower() for t in response.headers.get("Connection", "").split(",")}
    return [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in WRITTEN_HERE and name.lower() not in listed
    ]


def invalidated_names(
    key: CacheKey, request: Request, response: aiohttp.ClientResponse, keep_query: frozenset[str]
) -> list[str]:
    """RFC 9111 4.4: the target URI, and Location and Content-Location when same-origin."""
    names = [str(key.primary)]
    host = request.headers.get("host", "")
    for field in ("Location", "Content-Location"):
        value = response.headers.get(field)
        if not value:
            continue
        parts = urlsplit(value)
        if parts.netloc and parts.netloc != host:
            continue  # another origin's: never invalidated (RFC 9111 4.4)
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        with contextlib.suppress(RequestError, UnicodeDecodeError):
            target = f"{path}?{parts.query}" if parts.query else path
            names.append(str(cache_key(target, keep_query)))
    return names


async def pass_through(
    upstream: Upstream,
    heads: HeadBuilder,
    request: Request,
    key: CacheKey,
    keep_query: frozenset[str],
    invalidate: Invalidate,
) -> AnyAnswer:
    try:
        response = await upstream.send(
            request.method, key, request.target, request.headers, request.body
        )
    except UpstreamError as exc:
        return heads.error(exc.status, exc.reason)
    try:
        if 200 <= response.status < 400:
            await invalidate(invalidated_names(key, request, response, keep_query))
        head = heads.common + lines(answer_fields(response))
        length = response.content_length
        if response.status in NO_BODY or request.method == "HEAD":
            response.release()
            return Answer(response.status, head, length=0 if length is None else length)
        if length is None:
            body = await _whole(response)
            response.release()
            return Answer(response.status, head, body)
    except BaseException:
        response.release()
        raise
    return StreamAnswer(response.status, head, length, _stream(response), release=response.release)


async def _whole(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > MAX_BUFFERED_BYTES:
                raise UpstreamError(f"an answer over {MAX_BUFFERED_BYTES} bytes without a length")
            chunks.append(chunk)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise UpstreamError(f"upstream body broke: {type(exc).__name__}") from None
    return b"".join(chunks)


async def _stream(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes | FileRange, None]:
    """The body as it arrives; a broken one aborts the client's connection (StreamAnswer)."""
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        yield chunk
