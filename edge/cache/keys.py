"""Cache keys: two URLs that must give the same bytes give the same key.

The path is percent-decoded and checked; traversal, NUL, control characters and encoded
slashes are refused (400). The query keeps only the LL-HLS delivery directives (RFC 8216bis
section 6.2.5.1: `_HLS_msn`, `_HLS_part`, `_HLS_skip`) and whatever the operator configured;
auth tokens and cache busters are dropped, so they cost no hit ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode

from edge.errors import BadRequest, UriTooLong

KEY_MEMO_SIZE = 65536
KEY_MEMO_MAX_TARGET = 256
HLS_DIRECTIVES = frozenset({"_HLS_msn", "_HLS_part", "_HLS_skip"})
# signed-URL token parameters (edge/serve/signing.py): never part of a key, never sent upstream,
# even when an operator lists one in keep_query
TOKEN_PARAMS = frozenset({"cc_exp", "cc_prefix", "cc_ip", "cc_sig"})
# CMCD (CTA-5004) is per viewer and per request: never in a key, never sent upstream (issue 19)
NEVER_KEPT = TOKEN_PARAMS | {"CMCD"}
MAX_PATH_LENGTH = 2048

ObjectKind = Literal["playlist", "segment", "init", "key", "other"]

SEGMENT_SUFFIXES = (".ts", ".m4s", ".mp4", ".aac", ".m4a", ".m4v", ".mp3", ".vtt", ".webvtt")
PLAYLIST_SUFFIXES = (".m3u8", ".m3u")


@dataclass(frozen=True, slots=True)
class CacheKey:
    path: str
    query: str = ""
    variant: str = ""  # a Vary secondary key (variants.py); "#" is never in a path or query

    def __str__(self) -> str:
        name = f"{self.path}?{self.query}" if self.query else self.path
        return f"{name}#{self.variant}" if self.variant else name

    @property
    def primary(self) -> CacheKey:
        return CacheKey(self.path, self.query) if self.variant else self

    @property
    def upstream_target(self) -> str:
        """The request target sent upstream: the clean path, re-encoded, and the kept query."""
        target = quote(self.path, safe="/:@!$&'()*+,;=-._~")
        return f"{target}?{self.query}" if self.query else target


def normalise_path(raw_path: str) -> str:
    if len(raw_path) > MAX_PATH_LENGTH:
        raise UriTooLong(f"path longer than {MAX_PATH_LENGTH} bytes")
    if not raw_path.startswith("/"):
        raise BadRequest("path must start with /")
    lowered = raw_path.lower()
    if "%2f" in lowered or "%5c" in lowered:
        raise BadRequest("encoded slash in path")
    path = unquote(raw_path, errors="strict")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise BadRequest("control character or NUL in path")
    if "\\" in path:
        raise BadRequest("backslash in path")
    if "?" in path or "#" in path:  # only encoded ones get here; they would alias a query
        raise BadRequest("encoded ? or # in path")
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise BadRequest("path traversal")
    clean = "/" + "/".join(parts)
    return clean + "/" if path.endswith("/") and parts else clean


def normalise_query(raw_query: str, keep: frozenset[str] | None) -> str:
    """The query as part of the key: only the `keep` parameters, sorted (HLS objects), or all of
    it as sent (keep None: any other object, whose URL is its key, RFC 9111 2)."""
    if not raw_query:
        return ""
    if keep is None:
        if not any(name in raw_query for name in NEVER_KEPT):
            return raw_query
        kept = [p for p in raw_query.split("&") if p.partition("=")[0] not in NEVER_KEPT]
        return "&".join(kept)
    pairs = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k in keep]
    return urlencode(sorted(pairs))


def cache_key(raw_path_qs: str, keep_query: frozenset[str] = HLS_DIRECTIVES) -> CacheKey:
    """Key for a raw request target such as `/vod/a/index.m3u8?token=x&_HLS_msn=4`.

    Memoised for ordinary targets: viewers of a channel ask for the same few, and the
    decode-and-check work was a measurable part of a hot playlist hit (BENCHMARKS.md). Long
    targets (per-viewer tokens) are not remembered, so the memo stays small; neither are
    refused ones, which raise.
    """
    if len(raw_path_qs) > KEY_MEMO_MAX_TARGET:
        return _cache_key(raw_path_qs, keep_query)
    return _memo_cache_key(raw_path_qs, keep_query)


def _cache_key(raw_path_qs: str, keep_query: frozenset[str]) -> CacheKey:
    raw_path, _, raw_query = raw_path_qs.partition("?")
    try:
        path = normalise_path(raw_path)
    except UnicodeDecodeError:
        raise BadRequest("path is not valid UTF-8") from None
    # the HLS override (keep_query) applies to HLS objects; any other URL keeps its query
    keep = (keep_query | HLS_DIRECTIVES) - NEVER_KEPT if classify(path) != "other" else None
    return CacheKey(path, normalise_query(raw_query, keep))


def classify(path: str, content_type: str = "") -> ObjectKind:
    """Object kind by extension, then by content type (DESIGN: request path, step 2)."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(PLAYLIST_SUFFIXES) or "mpegurl" in content_type.lower():
        return "playlist"
    if name.endswith(".key"):
        return "key"
    if "init" in name and name.endswith((".mp4", ".m4s")):
        return "init"
    if name.endswith(SEGMENT_SUFFIXES) or content_type.startswith(("video/", "audio/")):
        return "segment"
    return "other"


_memo_cache_key = lru_cache(maxsize=KEY_MEMO_SIZE)(_cache_key)
