"""Reading HLS playlists (RFC 8216): what kind a playlist is, its target duration, the URIs
of its segments. Pure functions of the bytes; a leaf module that imports nothing of the edge."""

from __future__ import annotations

from typing import Literal

import m3u8

PlaylistKind = Literal["master", "live", "vod"]
MAX_TARGET_DURATION = 3600.0


class PlaylistError(ValueError):
    """A body the m3u8 parser refuses."""


def is_m3u8(body: bytes) -> bool:
    """RFC 8216 4.3.1.1: a playlist's first line is #EXTM3U. An HTML error page sent with a
    200 is not a playlist, and must never be cached as one."""
    return body.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"#EXTM3U")


def playlist_kind(body: bytes) -> tuple[PlaylistKind, float | None]:
    """Master or media; live or ended; and the target duration (RFC 8216 4.3.3.1, 4.3.4.2)."""
    if b"#EXT-X-STREAM-INF" in body:
        return "master", None
    target: float | None = None
    start = body.find(b"#EXT-X-TARGETDURATION:")
    if start >= 0:
        end = body.find(b"\n", start)
        target = _target_duration(
            body[start + 22 : end if end >= 0 else None].decode("ascii", "replace")
        )
    ended = b"#EXT-X-ENDLIST" in body or b"#EXT-X-PLAYLIST-TYPE:VOD" in body
    return ("vod" if ended else "live"), target


def _target_duration(value: str) -> float | None:
    """EXT-X-TARGETDURATION is a decimal-integer (RFC 8216 4.3.3.1); be lenient with "4.0"."""
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 < seconds <= MAX_TARGET_DURATION else None


def segment_uris(body: bytes) -> list[str]:
    """The media segments' URIs in playlist order (m3u8.loads, never m3u8.load, which does
    blocking I/O)."""
    try:
        playlist = m3u8.loads(body.decode("utf-8", "replace"))
    except Exception as exc:  # m3u8 raises plain exceptions on bad playlists
        raise PlaylistError(repr(exc)) from exc
    return [segment.uri for segment in playlist.segments if segment.uri]


# --- Low-Latency HLS (rfc8216bis), the edge's side; the shared rules are classcast/llhls.py ---

# rfc8216bis Appendix B: the answer to a blocking reload never changes, so caches keep it for
# six target durations (the time its MSN stays in any playlist).
BLOCKING_TTL_TARGET_DURATIONS = 6
# how long a blocking reload's fill may be held upstream, at most: rfc8216bis 6.2.5.2 lets a
# server hold three target durations, and MAX_TARGET_DURATION would be absurd here
BLOCKING_FILL_DEADLINE = 30.0


# rfc8216bis 6.2.5.2 / 6.2.6: an upstream may hold a blocking reload or a hinted part three
# target durations; the edge's upstream read timeout for them is that and this margin
UPSTREAM_HOLD_TARGET_DURATIONS = 3
UPSTREAM_HOLD_MARGIN_S = 2.0
UNKNOWN_HOLD_TARGET_DURATION = 6.0  # before the edge has seen the rendition's playlist


def upstream_hold(target_duration: float | None) -> float:
    """How long the upstream may take before its first byte of a held LL request."""
    td = target_duration or UNKNOWN_HOLD_TARGET_DURATION
    return UPSTREAM_HOLD_TARGET_DURATIONS * td + UPSTREAM_HOLD_MARGIN_S


def is_blocking(query: str) -> bool:
    """A cache key's query asks for a blocking reload (`_HLS_msn`; the key keeps it)."""
    return "_HLS_msn=" in query


def blocking_ttl(target_duration: float | None) -> float:
    return BLOCKING_TTL_TARGET_DURATIONS * (target_duration or 2.0)
