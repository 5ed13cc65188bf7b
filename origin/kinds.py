"""Object kinds: media types by extension and the Cache-Control each kind is served with."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from origin.config import OriginConfig

Kind = Literal[
    "live_master",
    "live_media",
    "vod_playlist",
    "segment",
    "error",
    "api",
    "control",
    "page",
    "asset",
    "asset_alias",
]

# RFC 8216 section 4: playlists are application/vnd.apple.mpegurl; segment types per 3.2-3.4.
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".key": "application/octet-stream",
}


def content_type_for(path: str) -> str | None:
    """The media type for a servable library file, None for anything else."""
    return CONTENT_TYPES.get(PurePosixPath(path).suffix.lower())


def file_kind(path: str) -> Kind:
    return "vod_playlist" if path.lower().endswith(".m3u8") else "segment"


def cache_control(kind: Kind, config: OriginConfig, target_duration: int = 0) -> str:
    if kind == "live_media":
        # Fresh for half a target duration: players reload about every target duration
        # (RFC 8216 6.3.4), so a cache never holds a live playlist a whole segment behind.
        return f"public, max-age={max(1, target_duration // 2)}"
    if kind == "live_master":
        return f"public, max-age={config.live_master_max_age}"
    if kind == "vod_playlist":
        return f"public, max-age={config.vod_playlist_max_age}"
    if kind == "segment":
        # Segments never change under a name: immutable (RFC 8246) for the full year.
        return f"public, max-age={config.segment_max_age}, immutable"
    if kind == "error":
        return f"public, max-age={config.not_found_max_age}"
    if kind == "api":
        return "public, max-age=2"
    if kind == "page":
        return f"public, max-age={config.page_max_age}"
    if kind == "asset":
        # Fingerprinted names (portal.<hash>.js): a new build is a new name, so never stale.
        return f"public, max-age={config.segment_max_age}, immutable"
    if kind == "asset_alias":
        return "public, max-age=3600"  # the plain name, for people and tools, not for pages
    return "no-store"
