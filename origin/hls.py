"""Parse the HLS playlists of a lesson folder with m3u8, translating its errors at the boundary."""

from __future__ import annotations

from dataclasses import dataclass

import m3u8

from origin.errors import LibraryError
from origin.models import Segment


@dataclass(frozen=True)
class VariantRef:
    uri: str
    bandwidth: int
    average_bandwidth: int | None
    resolution: tuple[int, int] | None
    codecs: str | None


def parse_master(text: str, where: str) -> tuple[VariantRef, ...]:
    playlist = _loads(text, where)
    if not playlist.is_variant:
        raise LibraryError(f"{where}: not a master playlist")
    variants = tuple(_variant(item, where) for item in playlist.playlists)
    if not variants:
        raise LibraryError(f"{where}: master playlist lists no variants")
    return variants


def parse_media(text: str, where: str) -> tuple[Segment, ...]:
    playlist = _loads(text, where)
    if playlist.is_variant:
        raise LibraryError(f"{where}: expected a media playlist")
    segments = tuple(Segment(str(s.uri), float(s.duration or 0.0)) for s in playlist.segments)
    if not segments:
        raise LibraryError(f"{where}: media playlist lists no segments")
    return segments


def _loads(text: str, where: str) -> m3u8.M3U8:
    if not text.startswith("#EXTM3U"):
        raise LibraryError(f"{where}: not an HLS playlist (RFC 8216 4.3.1.1 needs #EXTM3U first)")
    try:
        return m3u8.loads(text)
    except Exception as error:  # m3u8 raises assorted exception types on bad input
        raise LibraryError(f"{where}: unparsable playlist ({error})") from error


def _variant(item: m3u8.Playlist, where: str) -> VariantRef:
    info = item.stream_info
    if not info.bandwidth:
        raise LibraryError(f"{where}: variant {item.uri} has no BANDWIDTH (RFC 8216 4.3.4.2)")
    resolution = tuple(info.resolution) if info.resolution else None
    return VariantRef(
        uri=str(item.uri),
        bandwidth=int(info.bandwidth),
        average_bandwidth=int(info.average_bandwidth) if info.average_bandwidth else None,
        resolution=(int(resolution[0]), int(resolution[1])) if resolution else None,
        codecs=info.codecs or None,
    )
