"""Answers from stored objects: HIT, STALE, REVALIDATED and the finished part of a MISS.

Decide first (status, range, 304; RFC 9110 rules in classcast/http_rules.py), then take the body
from memory or, for disk entries, an open descriptor for sendfile. Hot disk entries keep their
descriptor open, so most disk hits are answered without awaiting anything.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from classcast.http_rules import ByteRange, RangeError, is_not_modified, parse_range, range_applies
from edge.cache.disk import DiskEntry, DiskTier, OpenFile
from edge.cache.freshness import Freshness
from edge.cache.hot import HotTier
from edge.cache.memory import MemoryObject
from edge.cache.objects import ObjectMeta
from edge.cache.tiers import Stored
from edge.errors import BadRequest, NotAcceptableRange
from edge.http.heads import HeadBuilder, per_request
from edge.http.messages import Answer, FileAnswer, FileRange, Request, StreamAnswer
from edge.http.prebuilt import Prebuilt

StreamParts = AsyncGenerator[bytes | FileRange, None]


def cache_control_out(fresh: Freshness) -> str:
    """What downstream caches and players are told; they subtract Age themselves."""
    if not fresh.store:
        return "no-store"
    return f"public, max-age={int(fresh.ttl)}"


class EntryGone(Exception):
    """A stored file could not be opened; the handler treats the request as a miss."""


@dataclass(frozen=True, slots=True)
class FilePlan:
    """A disk body to send once its descriptor is in hand."""

    status: int
    headers: bytes
    offset: int
    count: int
    x_cache: str


class Responder:
    def __init__(self, heads: HeadBuilder, disk: DiskTier, hot: HotTier | None = None) -> None:
        self.heads = heads
        self.disk = disk
        self.hot = hot

    def prebuilt(self, stored: Stored) -> bytes:
        """The object's own headers, built once per stored version (a revalidation rebuilds)."""
        return self.built(stored).headers

    def built(self, stored: Stored) -> Prebuilt:
        """The stored version's whole head but Date and the per-request lines, joined once
        (a revalidation, which makes a new meta, rebuilds it)."""
        cached = stored.headers
        if cached is not None and cached[0] is stored.meta:
            built = cached[1]
            if isinstance(built, Prebuilt):
                return built
        meta = stored.meta
        length = len(stored.body) if isinstance(stored, MemoryObject) else meta.length
        built = Prebuilt(meta.status, self._object_headers(meta), length)
        stored.headers = (meta, built)
        return built

    def _object_headers(self, meta: ObjectMeta) -> bytes:
        ok = meta.status == 200
        # the HLS policy rewrites Cache-Control for playlists and segments; any other object
        # carries the origin's own (kept in extra), as a shared cache should (RFC 9111)
        hls = meta.kind != "other"
        return self.heads.representation(
            content_type=meta.content_type,
            cache_control=cache_control_out(meta.freshness) if hls else None,
            etag=meta.etag or None,  # none yet while a body streams in
            last_modified=meta.last_modified,
            extra=meta.extra,
            ranges=ok,
        )

    def streamed(
        self, meta: ObjectMeta, length: int, parts: StreamParts, x_cache: str
    ) -> StreamAnswer:
        """A 200 sent while its body arrives (MISS, COALESCED), headed as the fetch described
        the object from its head."""
        head = self._object_headers(meta) + per_request(meta.initial_age, x_cache)
        return StreamAnswer(200, head, length, parts, x_cache=x_cache)

    def serve_now(
        self, request: Request, stored: Stored, x_cache: str, age: float
    ) -> Answer | FileAnswer | None:
        """The answer, or None when a disk entry's file must be opened first (`serve`)."""
        asked = request.headers
        if (
            stored.meta.status == 200
            and isinstance(stored, MemoryObject)
            and "range" not in asked
            and "if-none-match" not in asked
            and "if-modified-since" not in asked
        ):
            # the hot path, a plain playlist hit: the prebuilt head + two lines per request
            # (BENCHMARKS.md, hot playlist: CPU per request against nginx)
            return Answer(
                200,
                per_request(age, x_cache),
                stored.body,
                x_cache=x_cache,
                prebuilt=self.built(stored),
            )
        plan = self.decide(request, stored, x_cache, age)
        if not isinstance(plan, FilePlan):
            return plan
        assert isinstance(stored, DiskEntry)
        handle = self.disk.open_hot(stored)
        return None if handle is None else _file_answer(plan, handle)

    async def serve(
        self, request: Request, stored: Stored, x_cache: str, age: float, *, again: bool = False
    ) -> Answer | FileAnswer:
        """The answer; `again`: serve_now decided this request already (its hit is counted)."""
        plan = self.decide(request, stored, x_cache, age, counted=again)
        if not isinstance(plan, FilePlan):
            return plan
        assert isinstance(stored, DiskEntry)
        try:
            handle = await self.disk.open_file(stored)
        except OSError as exc:  # the file vanished under us: forget it and fetch again
            self.disk.errors += 1
            self.disk.discard_entry(stored)
            raise EntryGone(stored.meta.key) from exc
        return _file_answer(plan, handle)

    def decide(
        self, request: Request, stored: Stored, x_cache: str, age: float, counted: bool = False
    ) -> Answer | FilePlan:
        """Status, headers and which bytes; raises RequestError for a bad Range."""
        meta = stored.meta
        built = self.built(stored)
        extra = per_request(age, x_cache)
        headers = built.headers + extra
        if meta.status != 200:
            body = stored.body if isinstance(stored, MemoryObject) else b""
            return Answer(meta.status, headers, body, x_cache=x_cache)
        asked = request.headers
        if is_not_modified(
            asked.get("if-none-match"),
            asked.get("if-modified-since"),
            meta.etag,
            meta.last_modified_ts,
        ):
            return Answer(304, headers, x_cache=x_cache)
        window = self._range(request, meta)
        status, offset, count = 200, 0, meta.length
        if window is not None:
            status, offset, count = 206, window.start, window.length
            headers += b"Content-Range: %s\r\n" % window.content_range(meta.length).encode()
        if isinstance(stored, MemoryObject):
            body = stored.body if window is None else stored.body[offset : offset + count]
            return Answer(status, headers, body, x_cache=x_cache)
        if request.method == "HEAD" or count == 0:
            return Answer(status, headers, length=count, x_cache=x_cache)
        # the request that fetched it is not a hit: only hits count towards promotion
        held = self._held(stored, counted) if x_cache != "MISS" else None
        if held is not None and window is None:  # one write of the prebuilt head and the
            return Answer(200, extra, held, x_cache=x_cache, prebuilt=built)  # held bytes
        if held is not None:  # a range of the held bytes
            return Answer(status, headers, held[offset : offset + count], x_cache=x_cache)
        return FilePlan(status, headers, offset, count, x_cache)

    def _held(self, entry: DiskEntry, counted: bool) -> bytes | None:
        """The entry's bytes from the hot tier, or None (the hit counts towards promotion,
        unless `counted` already)."""
        if self.hot is None:
            return None
        body = self.hot.held(entry) if counted else self.hot.body(entry)
        if body is not None:
            self.disk.note_hit(entry)
        return body

    def _range(self, request: Request, meta: ObjectMeta) -> ByteRange | None:
        header = request.headers.get("range")
        if header is None or not range_applies(
            request.headers.get("if-range"), meta.etag, meta.last_modified
        ):
            return None
        try:
            return parse_range(header, meta.length)
        except RangeError as exc:
            if exc.status == 416:
                raise NotAcceptableRange(exc.reason, exc.size) from None
            raise BadRequest(exc.reason) from None


def _file_answer(plan: FilePlan, handle: OpenFile) -> FileAnswer:
    return FileAnswer(
        plan.status, plan.headers, handle.fd, plan.offset, plan.count, handle.release, plan.x_cache
    )
