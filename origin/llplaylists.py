"""Render a live media playlist with partial segments (rfc8216bis); pure, no I/O.

The same playlist serves legacy players: they ignore the EXT-X-PART, PRELOAD-HINT and
RENDITION-REPORT tags and play the complete segments, which keep their VOD URIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from origin.live import LiveSegment, Timeline
from origin.parts import LiveParts, PartPlan
from origin.playlists import format_program_date_time

# rfc8216bis 7: EXT-X-SKIP and the delivery directives need protocol version 9.
LL_VERSION = 9
# rfc8216bis 4.4.3.8: PART-HOLD-BACK at least twice the part target; three is recommended.
PART_HOLD_BACK_PARTS = 3
# rfc8216bis 4.4.3.8: CAN-SKIP-UNTIL at least six target durations.
SKIP_TARGET_DURATIONS = 6


@dataclass(frozen=True)
class RenditionReport:
    uri: str  # relative to the playlist that carries the report
    last_msn: int
    last_part: int


def part_uri(msn: int, part: int) -> str:
    return f"parts/{msn}.{part}.ts"


def render_ll_media(
    live: LiveParts,
    plan: PartPlan,
    timeline: Timeline,
    reports: Sequence[RenditionReport] = (),
) -> str:
    window = live.window
    target = plan.part_target
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{LL_VERSION}",
        f"#EXT-X-TARGETDURATION:{window.target_duration}",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
        f"CAN-SKIP-UNTIL={SKIP_TARGET_DURATIONS * window.target_duration:.1f},"
        f"PART-HOLD-BACK={PART_HOLD_BACK_PARTS * target:.3f}",
        f"#EXT-X-PART-INF:PART-TARGET={target:.3f}",
        f"#EXT-X-MEDIA-SEQUENCE:{window.media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{window.discontinuity_sequence}",
    ]
    for segment in window.segments:
        _segment_head(lines, segment)
        if segment.sequence >= live.listed_from:
            _parts(lines, plan, timeline, segment.sequence, None)
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(segment.uri)
    if live.parts_done:
        _segment_head(lines, live.growing)
        _parts(lines, plan, timeline, live.growing.sequence, live.parts_done)
    # rfc8216bis 4.4.5.3: the hint names the next part, which the server holds until it exists.
    lines.append(
        f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{part_uri(live.growing.sequence, live.parts_done)}"'
    )
    for report in reports:
        lines.append(
            f'#EXT-X-RENDITION-REPORT:URI="{report.uri}",'
            f"LAST-MSN={report.last_msn},LAST-PART={report.last_part}"
        )
    return "\n".join(lines) + "\n"


def _segment_head(lines: list[str], segment: LiveSegment) -> None:
    if segment.discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")
    lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_program_date_time(segment.start)}")


def _parts(
    lines: list[str], plan: PartPlan, timeline: Timeline, msn: int, count: int | None
) -> None:
    parts = plan.layout(timeline, msn).parts
    for index, part in enumerate(parts[:count]):
        independent = ",INDEPENDENT=YES" if part.independent else ""
        lines.append(
            f'#EXT-X-PART:DURATION={part.duration:.3f},URI="{part_uri(msn, index)}"{independent}'
        )
