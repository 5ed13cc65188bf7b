"""Render master and live media playlists as text (RFC 8216); pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from origin.live import LiveWindow
from origin.models import Rendition

# RFC 8216 section 7: floating-point EXTINF durations need protocol version 3.
VERSION = 3


def render_master(renditions: Iterable[Rendition], uri_prefix: str = "") -> str:
    """A master playlist (RFC 8216 section 4.3.4.2) with one EXT-X-STREAM-INF per rendition."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        lines.append(f"#EXT-X-STREAM-INF:{stream_attributes(rendition)}")
        lines.append(uri_prefix + rendition.uri)
    return "\n".join(lines) + "\n"


def stream_attributes(rendition: Rendition) -> str:
    parts = [f"BANDWIDTH={rendition.bandwidth}"]
    if rendition.average_bandwidth:
        parts.append(f"AVERAGE-BANDWIDTH={rendition.average_bandwidth}")
    if rendition.resolution:
        parts.append(f"RESOLUTION={rendition.resolution[0]}x{rendition.resolution[1]}")
    if rendition.codecs:
        parts.append(f'CODECS="{rendition.codecs}"')
    return ",".join(parts)


def render_live_media(window: LiveWindow) -> str:
    """A live media playlist: no EXT-X-ENDLIST, so players keep reloading (RFC 8216 6.3.4)."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{window.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{window.media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{window.discontinuity_sequence}",
    ]
    for segment in window.segments:
        if segment.discontinuity:
            # RFC 8216 4.3.2.3: timestamps and encoding restart where one lesson meets the next.
            lines.append("#EXT-X-DISCONTINUITY")
        # RFC 8216 4.3.2.6: wall-clock time of the segment's first sample, on every segment.
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_program_date_time(segment.start)}")
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(segment.uri)
    return "\n".join(lines) + "\n"


def format_program_date_time(unix_seconds: float) -> str:
    """ISO 8601 with milliseconds and a Z offset, e.g. 2025-09-01T08:00:04.000Z."""
    moment = datetime.fromtimestamp(round(unix_seconds, 3), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
