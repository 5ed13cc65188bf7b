"""Live-window arithmetic: which segments a channel's playlist lists at a given instant.

Pure functions of (timeline, epoch, now). Segment n of a channel (n = 0 at the epoch) is segment
n mod N of the looped timetable, so every replica derives the same playlist from the same clock.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from origin.errors import NotStarted
from origin.models import Segment


@dataclass(frozen=True)
class TimelineEntry:
    lesson_id: str
    uri: str
    duration: float
    starts_lesson: bool


@dataclass(frozen=True)
class Timeline:
    """One loop of a channel's timetable for one rendition."""

    entries: tuple[TimelineEntry, ...]
    ends: tuple[int, ...]  # end of each entry from the start of the loop, in milliseconds

    @property
    def loop_ms(self) -> int:
        return self.ends[-1]

    @property
    def lesson_starts(self) -> tuple[int, ...]:
        return tuple(i for i, entry in enumerate(self.entries) if entry.starts_lesson)

    @property
    def target_duration(self) -> int:
        # RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer fits the target duration;
        # taken over the whole loop because it must never change (RFC 8216 6.2.1).
        return max(math.floor(entry.duration + 0.5) for entry in self.entries)


def build_timeline(lessons: Sequence[tuple[str, Sequence[Segment]]]) -> Timeline:
    """lessons: (lesson id, segments with their absolute URIs), in timetable order."""
    entries = tuple(
        TimelineEntry(lesson_id, segment.uri, segment.duration, starts_lesson=index == 0)
        for lesson_id, segments in lessons
        for index, segment in enumerate(segments)
    )
    if not entries or any(entry.duration <= 0 for entry in entries):
        raise ValueError("a timeline needs segments with positive durations")
    return Timeline(entries, tuple(accumulate(to_ms(entry.duration) for entry in entries)))


def to_ms(seconds: float) -> int:
    """Whole milliseconds: integer arithmetic keeps 4.0 + 1.6 from ending at 5.59999."""
    return round(seconds * 1000)


@dataclass(frozen=True)
class LiveSegment:
    sequence: int
    lesson_id: str
    uri: str
    start: float  # unix seconds
    duration: float
    discontinuity: bool

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class LiveWindow:
    media_sequence: int
    discontinuity_sequence: int
    target_duration: int
    segments: tuple[LiveSegment, ...]

    @property
    def newest_end(self) -> float:
        return self.segments[-1].end


def completed_segments(timeline: Timeline, epoch: float, now: float) -> int:
    """How many segments have ended by `now` (a segment is listed only once it is complete)."""
    elapsed = to_ms(now - epoch)
    if elapsed <= 0:
        return 0
    loops, into_loop = divmod(elapsed, timeline.loop_ms)
    return loops * len(timeline.entries) + bisect.bisect_right(timeline.ends, into_loop)


def segment_at(timeline: Timeline, epoch: float, sequence: int) -> LiveSegment:
    loops, index = divmod(sequence, len(timeline.entries))
    entry = timeline.entries[index]
    start_ms = loops * timeline.loop_ms + timeline.ends[index] - to_ms(entry.duration)
    start = epoch + start_ms / 1000
    # RFC 8216 4.3.2.3: a discontinuity before every lesson start but the channel's first.
    discontinuity = entry.starts_lesson and sequence > 0
    return LiveSegment(sequence, entry.lesson_id, entry.uri, start, entry.duration, discontinuity)


def discontinuities_before(timeline: Timeline, sequence: int) -> int:
    """EXT-X-DISCONTINUITY tags attached to segments numbered below `sequence`."""
    if sequence <= 0:
        return 0
    loops, index = divmod(sequence, len(timeline.entries))
    starts = timeline.lesson_starts
    tags = loops * len(starts) + bisect.bisect_left(starts, index)
    return tags - 1  # segment 0 starts a lesson but carries no tag


def live_window(timeline: Timeline, epoch: float, now: float, size: int) -> LiveWindow:
    """The newest `size` complete segments at `now`.

    RFC 8216 6.2.2: the media sequence number is the first listed segment's number, and the
    discontinuity sequence counts the tags that slid out of the window before it.
    """
    completed = completed_segments(timeline, epoch, now)
    if completed == 0:
        raise NotStarted("channel has not started yet")
    first = max(0, completed - size)
    segments = tuple(segment_at(timeline, epoch, n) for n in range(first, completed))
    return LiveWindow(
        first, discontinuities_before(timeline, first), timeline.target_duration, segments
    )


def now_playing(timeline: Timeline, epoch: float, now: float) -> LiveSegment | None:
    """The segment on air at `now` (complete or not), None before the epoch."""
    elapsed = to_ms(now - epoch)
    if elapsed < 0:
        return None
    loops, into_loop = divmod(elapsed, timeline.loop_ms)
    index = min(bisect.bisect_right(timeline.ends, into_loop), len(timeline.entries) - 1)
    return segment_at(timeline, epoch, loops * len(timeline.entries) + index)
