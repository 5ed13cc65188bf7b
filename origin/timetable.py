"""What a channel plays now and next, from its looped timetable (pure)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from origin.live import Timeline, to_ms


@dataclass(frozen=True)
class Slot:
    lesson_id: str
    start: float  # unix seconds
    end: float


@dataclass(frozen=True)
class OnAir:
    now: Slot | None  # None before the channel's epoch
    next: Slot


def lesson_spans(timeline: Timeline) -> tuple[tuple[str, int], ...]:
    """(lesson id, end in ms from the start of the loop) for each lesson of one loop."""
    spans: list[tuple[str, int]] = []
    for entry, end in zip(timeline.entries, timeline.ends, strict=True):
        if entry.starts_lesson or not spans:
            spans.append((entry.lesson_id, end))
        else:
            spans[-1] = (entry.lesson_id, end)
    return tuple(spans)


def on_air(timeline: Timeline, epoch: float, now: float) -> OnAir:
    spans = lesson_spans(timeline)
    elapsed = to_ms(now - epoch)
    if elapsed < 0:
        return OnAir(None, _slot(spans, 0, epoch))
    loops, into_loop = divmod(elapsed, timeline.loop_ms)
    index = bisect.bisect_right([end for _, end in spans], into_loop)
    loop_start = epoch + loops * timeline.loop_ms / 1000
    current = _slot(spans, index, loop_start)
    following = index + 1
    if following == len(spans):  # the timetable loops: the next lesson is the first again
        return OnAir(current, _slot(spans, 0, current.end))
    return OnAir(current, _slot(spans, following, loop_start))


def _slot(spans: tuple[tuple[str, int], ...], index: int, loop_start: float) -> Slot:
    lesson_id, end_ms = spans[index]
    start_ms = spans[index - 1][1] if index > 0 else 0
    return Slot(lesson_id, loop_start + start_ms / 1000, loop_start + end_ms / 1000)
