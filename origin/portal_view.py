"""What the portal pages show, as plain values: channel cards and the library's shelves (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby

from origin.models import Lesson
from origin.schedule import Channel
from origin.timetable import Slot, on_air

OTHER_GRADE = "Other lessons"
OTHER_SUBJECT = "General"


@dataclass(frozen=True)
class Showing:
    lesson_id: str
    title: str
    start: float  # unix seconds
    end: float


@dataclass(frozen=True)
class ChannelCard:
    id: str
    title: str
    now: Showing | None  # None before the channel's first lesson
    next: Showing


@dataclass(frozen=True)
class Shelf:
    """One subject of one grade."""

    grade: str
    subject: str
    lessons: tuple[Lesson, ...]


def channel_card(channel: Channel, now: float, titles: Mapping[str, str]) -> ChannelCard:
    timeline = next(iter(channel.timelines.values()))
    slots = on_air(timeline, channel.epoch, now)
    showing_now = _showing(slots.now, titles) if slots.now else None
    return ChannelCard(channel.id, channel.title, showing_now, _showing(slots.next, titles))


def _showing(slot: Slot, titles: Mapping[str, str]) -> Showing:
    return Showing(slot.lesson_id, titles.get(slot.lesson_id, slot.lesson_id), slot.start, slot.end)


def shelves(lessons: Iterable[Lesson]) -> tuple[Shelf, ...]:
    """Lessons by grade (in number order: Grade 5 before Grade 10), then subject, then title."""
    ordered = sorted(lessons, key=_shelf_order)
    return tuple(
        Shelf(grade, subject, tuple(group))
        for (grade, subject), group in groupby(ordered, key=_shelf_name)
    )


def _shelf_name(lesson: Lesson) -> tuple[str, str]:
    return lesson.grade or OTHER_GRADE, lesson.subject or OTHER_SUBJECT


def _shelf_order(lesson: Lesson) -> tuple[object, ...]:
    grade, subject = _shelf_name(lesson)
    # lessons without a grade go last, whatever their name sorts as
    return (not lesson.grade, natural_key(grade), natural_key(subject), natural_key(lesson.title))


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """'Grade 10' after 'Grade 9': digits compare as numbers."""
    parts = re.split(r"(\d+)", text.casefold())
    return tuple((int(part), "") if part.isdigit() else (0, part) for part in parts if part)


def next_in_grade(lesson: Lesson, library: Iterable[Lesson]) -> Lesson | None:
    """The lesson after this one in the library's order within its grade, if any."""
    grade = _shelf_name(lesson)[0]
    ordered = [item for shelf in shelves(library) if shelf.grade == grade for item in shelf.lessons]
    ids = [item.id for item in ordered]
    index = ids.index(lesson.id) + 1 if lesson.id in ids else len(ids)
    return ordered[index] if index < len(ordered) else None
