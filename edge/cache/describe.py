"""What an upstream response says about the object it carries: pure functions from the status
line and headers (then the finished body) to the object's metadata and freshness.

The freshness is computed once, from the head, and reused by everything that answers before
the body is complete (a streamed MISS or COALESCED); only a playlist's is computed again from
its body, which tells whether it is live and its target duration (RFC 8216 4.3.3.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from multidict import CIMultiDict, CIMultiDictProxy

from classcast.http_rules import http_date, parse_http_date, parse_http_date_strict
from edge.cache.freshness import (
    NO_STORE,
    Freshness,
    FreshnessDefaults,
    delta_seconds,
    directives,
    freshness,
    parse_cache_control,
)
from edge.cache.keys import CacheKey, classify
from edge.cache.objects import ObjectMeta
from edge.hls import blocking_ttl, is_blocking, playlist_kind

# RFC 9110 7.6.1: hop-by-hop fields, never stored nor forwarded (nor those Connection names)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# Fields the edge writes itself on every answer: framing, its own, and those kept in the meta's
# own fields (Content-Type, ETag, Last-Modified)
WRITTEN_BY_EDGE = frozenset(
    {
        "content-length",
        "content-range",
        "accept-ranges",
        "age",
        "via",
        "x-cache",
        "content-type",
        "etag",
        "last-modified",
        "access-control-allow-origin",
        "access-control-expose-headers",
    }
)
# The HLS policy rewrites these for playlists and segments (answers.cache_control_out); any
# other object carries the origin's own (RFC 9111: a cache passes them on)
# (and Date: an HLS object's answers carry the edge's; any other one keeps the origin's, as a
# stored response does, RFC 9110 6.6.1)
HLS_REWRITTEN = frozenset({"cache-control", "expires", "pragma", "date"})
# A fill's answer may reach coalesced waiters: one viewer's cookie must never reach another
# (such a response is never stored either; passed-through methods do relay it)
NEVER_SHARED = frozenset({"set-cookie"})
# RFC 9111 4.3.4: fields a 304 must not change in the stored response
NOT_UPDATED_BY_304 = frozenset({"content-length", "content-encoding", "content-range", "etag"})

Headers = Mapping[str, str]


def end_to_end(headers: Headers, drop: frozenset[str] = frozenset()) -> dict[str, str]:
    """The end-to-end fields to keep with an object: name -> its field lines joined by "\n"
    (so the prebuilt head repeats a repeated field, Set-Cookie included)."""
    listed = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    kept: dict[str, str] = {}
    items = headers.items()
    for field, value in items:
        name = str(field)  # aiohttp's names are istr, which orjson (node messages) refuses
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in WRITTEN_BY_EDGE or lower in NEVER_SHARED:
            continue
        if lower in listed or lower in drop:
            continue
        kept[name] = f"{kept[name]}\n{value}" if name in kept else value
    return kept


def head_meta(
    key: CacheKey,
    status: int,
    headers: Headers,
    length: int | None,
    now: float,
    defaults: FreshnessDefaults,
    asked: Mapping[str, str] | None = None,
) -> ObjectMeta:
    """The object as its head describes it; `length` and a missing ETag wait for the body.
    `asked` is the request that started the fill (lower-case names): its Authorization and
    the fields Vary names matter."""
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
        extra=end_to_end(headers, HLS_REWRITTEN if kind != "other" else frozenset()),
        vary=vary_fields(_all(headers, "Vary")),
        authorized=bool(asked and "authorization" in asked),
    )
    return replace(meta, freshness=object_freshness(meta, headers, defaults, now))


def vary_fields(header: str) -> tuple[str, ...]:
    """The request fields a response varies on, lower-case and sorted ("*": never reused)."""
    if not header:
        return ()
    return tuple(sorted({f.strip().lower() for f in header.split(",") if f.strip()}))


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
    fresh = object_freshness(meta, headers, defaults, meta.stored_at)
    if playlist == "live" and fresh.store and is_blocking(head.key.partition("?")[2]):
        # rfc8216bis Appendix B: a blocking reload's answer is final; no stale windows needed
        fresh = replace(fresh, ttl=blocking_ttl(target), swr=0.0, sie=0.0)
    return replace(meta, freshness=fresh)


def revalidated_meta(
    stored: ObjectMeta, headers: Headers, now: float, defaults: FreshnessDefaults
) -> ObjectMeta:
    """A stored object confirmed by a 304: its fields updated by the 304's (RFC 9111 4.3.4),
    fresh again from now as the merged fields say."""
    drop = NOT_UPDATED_BY_304 | (HLS_REWRITTEN if stored.kind != "other" else frozenset())
    update = end_to_end(headers, drop)
    extra = {**stored.extra, **update} if update else stored.extra
    merged = replace(stored, extra=extra)
    fresh = object_freshness(merged, _merged_fields(merged, headers), defaults, now)
    return merged.revalidated(now, fresh, upstream_age(headers))


def _merged_fields(meta: ObjectMeta, headers: Headers) -> CIMultiDict[str]:
    fields = CIMultiDict((name, value.replace("\n", ", ")) for name, value in meta.extra.items())
    for name in ("Cache-Control", "CDN-Cache-Control", "Expires", "Date", "Last-Modified"):
        if name in headers:
            fields[name] = headers[name]
    if meta.last_modified and "Last-Modified" not in fields:
        fields["Last-Modified"] = meta.last_modified
    return fields


def object_freshness(
    meta: ObjectMeta, headers: Headers, defaults: FreshnessDefaults, now: float
) -> Freshness:
    if "*" in meta.vary:  # RFC 9111 4.1: Vary: * never matches a later request
        return NO_STORE
    date = parse_http_date_strict(headers.get("Date")) or now
    # RFC 9213: CDN-Cache-Control, when present, is the origin's word to CDNs (the edge is
    # one): it replaces Cache-Control and Expires for the edge's own freshness
    targeted = _all(headers, "CDN-Cache-Control")
    if targeted and not is_valid_targeted(targeted):
        targeted = ""  # RFC 9213 2.1: an invalid targeted field is ignored
    expires = None if targeted else (_all(headers, "Expires") or None)
    return freshness(
        meta.kind,
        meta.status,
        parse_cache_control(targeted or _all(headers, "Cache-Control")),
        playlist=meta.playlist,
        target_duration=meta.target_duration,
        sets_cookie="Set-Cookie" in headers,
        defaults=defaults,
        expires=expires_lifetime(expires, date),
        since_modified=_since_modified(headers.get("Last-Modified"), date),
        authorized=meta.authorized,
    )


_SF_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_SF_INTEGER_KEYS = frozenset({"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"})
_QUOTED_LIFETIME = re.compile(
    r"(?:max-age|s-maxage|stale-while-revalidate|stale-if-error)\s*=\s*\""
)


def is_valid_targeted(value: str) -> bool:
    """A structured-field dictionary (RFC 8941) whose lifetimes are integers."""
    for name, arg in directives(value):
        if not _SF_KEY.fullmatch(name) or name != name.lower():
            return False
        if name in _SF_INTEGER_KEYS and (arg is None or not arg.isdigit()):
            return False
    return _QUOTED_LIFETIME.search(value) is None  # a string where an integer must be


def _all(headers: Headers, name: str) -> str:
    """Every line of a list field, as one (RFC 9110 5.3)."""
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):
        return ", ".join(headers.getall(name, ()))
    return headers.get(name, "")


def expires_lifetime(expires: str | None, date: float) -> float | None:
    """RFC 9111 5.3: Expires minus Date; an invalid Expires (e.g. "0") means already expired."""
    if expires is None:
        return None
    when = parse_http_date_strict(expires)  # several lines ("a, b") are invalid too
    return 0.0 if when is None else max(0.0, when - date)


def _since_modified(last_modified: str | None, date: float) -> float | None:
    modified = parse_http_date(last_modified)
    return None if modified is None else date - modified


def upstream_age(headers: Mapping[str, str]) -> float:
    """The Age an upstream cache says its copy has (RFC 9111 5.1); invalid means 0."""
    value = headers.get("Age")  # the first line, and the first value of a list (RFC 9111 5.1)
    return (delta_seconds(value.split(",")[0]) or 0.0) if value else 0.0


def is_frozen_live(meta: ObjectMeta) -> bool:
    """An upstream cache handing us a live playlist already past its refresh window: never
    pass it on as fresh (a frozen live playlist is the worst failure a viewer sees)."""
    fresh = meta.freshness
    return meta.is_live and fresh.store and meta.initial_age >= fresh.ttl + fresh.swr
