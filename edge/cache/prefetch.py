"""Prefetch (DESIGN "Prefetch and refresh-ahead"): which segments of a freshly filled live
playlist to fetch before viewers ask. Pure: the cache starts the fills."""

from __future__ import annotations

import logging
from posixpath import dirname
from urllib.parse import urljoin, urlsplit

from edge.cache.keys import CacheKey, cache_key
from edge.errors import RequestError
from edge.hls import PlaylistError, segment_uris

log = logging.getLogger("edge.prefetch")


def newest_segments(
    playlist_key: CacheKey, body: bytes, count: int, keep_query: frozenset[str]
) -> list[CacheKey]:
    """Keys of the newest `count` segments the playlist names on this host."""
    if count <= 0:
        return []
    try:
        uris = segment_uris(body)
    except PlaylistError as exc:
        log.warning("prefetch parse failed", extra={"key": str(playlist_key), "error": str(exc)})
        return []
    base = dirname(playlist_key.path) + "/"
    keys = []
    for uri in uris[-count:]:
        target = urlsplit(urljoin(base, uri))
        if target.scheme or target.netloc:
            continue  # another host's segment: not ours to fetch
        try:
            keys.append(
                cache_key(target.path + (f"?{target.query}" if target.query else ""), keep_query)
            )
        except RequestError:
            continue
    return keys
