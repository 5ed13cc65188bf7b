"""The clock of partial segments on a live channel (pure): which parts exist at an instant.

Part p of segment n exists once the segment's start plus the durations of parts 0..p has passed
on the timetable's clock, as if an encoder had just written it; a segment is complete at its end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate

from origin.live import LiveSegment, LiveWindow, Timeline, completed_segments, segment_at
from origin.live import live_window as complete_window
from origin.tsparts import PartLayout


@dataclass(frozen=True)
class PartPlan:
    """The part layout of every entry of one rendition's timeline (index = timeline entry)."""

    layouts: tuple[PartLayout, ...]

    @property
    def part_target(self) -> float:
        """rfc8216bis 4.4.3.7: no part may be longer than PART-TARGET; milliseconds, rounded up."""
        longest = max(part.duration for layout in self.layouts for part in layout.parts)
        return math.ceil(longest * 1000) / 1000

    def layout(self, timeline: Timeline, sequence: int) -> PartLayout:
        return self.layouts[sequence % len(timeline.entries)]

    def part_ends(self, timeline: Timeline, sequence: int) -> tuple[float, ...]:
        """Seconds from the segment's start at which each of its parts is complete."""
        return tuple(accumulate(p.duration for p in self.layout(timeline, sequence).parts))


@dataclass(frozen=True)
class LiveParts:
    window: LiveWindow  # complete segments
    growing: LiveSegment  # the segment being written now
    parts_done: int  # its complete parts (0 right after a segment boundary)
    listed_from: int  # MSN of the oldest complete segment whose parts are still listed

    @property
    def last_msn(self) -> int:
        return self.growing.sequence if self.parts_done else self.growing.sequence - 1

    def newest_end(self, plan: PartPlan, timeline: Timeline) -> float:
        """When the newest listed part (or segment) ended: the same on every replica."""
        if not self.parts_done:
            return self.window.newest_end
        return (
            self.growing.start
            + plan.part_ends(timeline, self.growing.sequence)[self.parts_done - 1]
        )

    def last_part(self, plan: PartPlan, timeline: Timeline) -> int:
        if self.parts_done:
            return self.parts_done - 1
        return len(plan.layout(timeline, self.growing.sequence - 1).parts) - 1


# rfc8216bis 4.4.3.8: parts older than three target durations from the end are dropped.
PART_LIST_TARGET_DURATIONS = 3


def live_parts(
    timeline: Timeline, plan: PartPlan, epoch: float, now: float, size: int
) -> LiveParts:
    window = complete_window(timeline, epoch, now, size)
    growing = segment_at(timeline, epoch, completed_segments(timeline, epoch, now))
    done = sum(
        1 for end in plan.part_ends(timeline, growing.sequence) if growing.start + end <= now
    )
    horizon = window.newest_end - PART_LIST_TARGET_DURATIONS * timeline.target_duration
    listed = [s.sequence for s in window.segments if s.end > horizon]
    listed_from = listed[0] if listed else growing.sequence
    return LiveParts(window, growing, done, listed_from)


def exists_at(
    timeline: Timeline, plan: PartPlan, epoch: float, msn: int, part: int | None
) -> float:
    """When segment `msn` (part None) or its part `part` is complete, in unix seconds.

    A part index past the segment's last part is the segment itself (it can only be satisfied
    once the segment is complete)."""
    segment = segment_at(timeline, epoch, msn)
    ends = plan.part_ends(timeline, msn)
    if part is None or part >= len(ends):
        return segment.end
    return segment.start + ends[part]
