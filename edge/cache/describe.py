"""What an upstream response says about the object it carries: pure functions from the status
line and headers (then the finished body) to the object's metadata and freshness.

The freshness is computed once, from the head, and reused by everything that answers before
the body is complete (a streamed MISS or COALESCED); only a playlist's is computed again from
its body, which tells whether it is live and its target duration (RFC 8216 4.3.3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from classcast.http_rules import http_date, parse_http_date
from edge.cache.freshness import (
    Freshness,
    FreshnessDefaults,
    delta_seconds,
    freshness,
    parse_cache_control,
)
from edge.cache.keys import CacheKey, classify
from edge.cache.objects import ObjectMeta
from edge.hls import blocking_ttl, is_blocking, playlist_kind

# End-to-end headers kept with the object and sent on (others are rewritten or dropped).
KEPT_HEADERS = ("Content-Encoding", "Content-Language", "Content-Disposition", "Link", "Location")


def head_meta(
    key: CacheKey,
    status: int,
    headers: Mapping[str, str],
    length: int | None,
    now: float,
    defaults: FreshnessDefaults,
) -> ObjectMeta:
    """The object as its head describes it; `length` and a missing ETag wait for the body."""
    kind = classify(key.path, headers.get("Content-Type", ""))
    meta = ObjectMeta(
        key=str(key),
        kind=kind,
        status=status,
        content_type=headers.get("Content-Type", "application/octet-stream"),
        length=length or 0,
        etag=headers.get("ETag", ""),
        last_modified=headers.get("Last-Modified") or http_date(now),
        last_modified_ts=parse_http_date(headers.get("Last-Modified")) or now,
        stored_at=now,
        initial_age=upstream_age(headers),
        freshness=Freshness(0.0),
        extra={name: headers[name] for name in KEPT_HEADERS if name in headers},
    )
    return replace(meta, freshness=object_freshness(meta, headers, defaults))


def completed_meta(
    head: ObjectMeta,
    headers: Mapping[str, str],
    body: bytes,
    received: int,
    digest: str | None,
    defaults: FreshnessDefaults,
) -> ObjectMeta:
    """The object once its whole body is in: its length, an ETag of our own when the origin
    sent none (a digest of the body), and a playlist's kind and target duration."""
    meta = replace(head, length=received, etag=head.etag or f'"{digest or ""}"')
    if head.kind != "playlist" or head.status != 200 or not body:
        return meta
    playlist, target = playlist_kind(body)
    meta = replace(meta, playlist=playlist, target_duration=target)
    fresh = object_freshness(meta, headers, defaults)
    if playlist == "live" and fresh.store and is_blocking(head.key.partition("?")[2]):
        # rfc8216bis Appendix B: a blocking reload's answer is final; no stale windows needed
        fresh = replace(fresh, ttl=blocking_ttl(target), swr=0.0, sie=0.0)
    return replace(meta, freshness=fresh)


def revalidated_meta(
    stored: ObjectMeta, headers: Mapping[str, str], now: float, defaults: FreshnessDefaults
) -> ObjectMeta:
    """A stored object confirmed by a 304: fresh again from now, as the 304's headers say
    (RFC 9111 4.3.4)."""
    fresh = object_freshness(stored, headers, defaults)
    return stored.revalidated(now, fresh, upstream_age(headers))


def object_freshness(
    meta: ObjectMeta, headers: Mapping[str, str], defaults: FreshnessDefaults
) -> Freshness:
    return freshness(
        meta.kind,
        meta.status,
        parse_cache_control(headers.get("Cache-Control", "")),
        playlist=meta.playlist,
        target_duration=meta.target_duration,
        sets_cookie="Set-Cookie" in headers,
        defaults=defaults,
    )


def upstream_age(headers: Mapping[str, str]) -> float:
    """The Age an upstream cache says its copy has (RFC 9111 5.1); invalid means 0."""
    value = headers.get("Age")
    return (delta_seconds(value) or 0.0) if value else 0.0


def is_frozen_live(meta: ObjectMeta) -> bool:
    """An upstream cache handing us a live playlist already past its refresh window: never
    pass it on as fresh (a frozen live playlist is the worst failure a viewer sees)."""
    fresh = meta.freshness
    return meta.is_live and fresh.store and meta.initial_age >= fresh.ttl + fresh.swr
