"""Parse HLS playlists (RFC 8216 section 4) into small immutable values.

Only `m3u8.loads` is used: `m3u8.load` does blocking I/O, and the harness does its own fetching.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urljoin

import m3u8

from loadtest.errors import PlaylistError

PARSE_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendition of a master playlist (RFC 8216 section 4.3.4.2, EXT-X-STREAM-INF)."""

    name: str
    url: str
    bandwidth: int


@dataclass(frozen=True, slots=True)
class Segment:
    url: str
    sequence: int
    duration: float
    start: float  # seconds from the first segment of this playlist


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    target_duration: float
    media_sequence: int
    segments: tuple[Segment, ...]
    is_ended: bool  # EXT-X-ENDLIST present (RFC 8216 section 4.3.3.4)

    @property
    def first_sequence(self) -> int:
        return self.media_sequence

    @property
    def last_sequence(self) -> int:
        return self.media_sequence + len(self.segments) - 1

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    def segment(self, sequence: int) -> Segment | None:
        index = sequence - self.media_sequence
        if 0 <= index < len(self.segments):
            return self.segments[index]
        return None


def variant_name(uri: str) -> str:
    """`360p/index.m3u8` names its rendition `360p`; a bare file name names itself."""
    parts = [part for part in uri.split("?")[0].split("/") if part]
    return parts[-2] if len(parts) >= 2 else parts[-1]


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_master(text: str, base_url: str) -> tuple[Variant, ...]:
    """Variants sorted by bandwidth, lowest first. Cached: every viewer fetches the same bytes."""
    document = _loads(text)
    if not document.is_variant:
        raise PlaylistError(f"{base_url} is not a master playlist")
    variants = [
        Variant(
            name=variant_name(entry.uri),
            url=urljoin(base_url, entry.uri),
            bandwidth=int(entry.stream_info.bandwidth or 0),
        )
        for entry in document.playlists
    ]
    if not variants:
        raise PlaylistError(f"{base_url} lists no variants")
    return tuple(sorted(variants, key=lambda variant: variant.bandwidth))


# Thousands of viewers of one channel fetch byte-identical playlists; parsing each distinct
# body once instead of once per viewer is what keeps the generator off the CPU ceiling.
@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_media(text: str, base_url: str) -> MediaPlaylist:
    document = _loads(text)
    if document.is_variant:
        raise PlaylistError(f"{base_url} is a master playlist, expected a media playlist")
    if document.target_duration is None:
        # RFC 8216 section 4.3.3.1: EXT-X-TARGETDURATION is required.
        raise PlaylistError(f"{base_url} has no EXT-X-TARGETDURATION")
    first = int(document.media_sequence or 0)
    segments: list[Segment] = []
    start = 0.0
    for index, entry in enumerate(document.segments):
        if not entry.uri:
            # rfc8216bis 4.4.4.9: an LL-HLS playlist ends with the parts of a segment still
            # being written (m3u8 lists them as a segment without a URI); a legacy player
            # plays complete segments only
            continue
        duration = float(entry.duration or 0.0)
        segments.append(Segment(urljoin(base_url, entry.uri), first + index, duration, start))
        start += duration
    return MediaPlaylist(
        target_duration=float(document.target_duration),
        media_sequence=first,
        segments=tuple(segments),
        is_ended=bool(document.is_endlist),
    )


def _loads(text: str) -> m3u8.M3U8:
    if not text.lstrip("\ufeff").startswith("#EXTM3U"):
        # RFC 8216 section 4.3.1.1: the first line must be EXTM3U.
        raise PlaylistError("playlist does not start with #EXTM3U")
    try:
        return m3u8.loads(text)
    except Exception as error:  # m3u8 raises assorted types; translate at the boundary
        raise PlaylistError(f"unparseable playlist: {error}") from error
