"""Now and next on a channel, against a table: a 3-lesson loop of 2 + 3 + 1 four-second segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from origin.live import build_timeline
from origin.models import Lesson, Segment
from origin.portal_view import natural_key, next_in_grade, shelves
from origin.timetable import Slot, on_air

EPOCH = 1_000_000.0
NOWHERE = Path("/nowhere")


def seg(lesson: str, n: int) -> Segment:
    return Segment(f"/vod/{lesson}/360p/seg_{n:05d}.ts", 4.0)


# a: 0-8 s, b: 8-20 s, c: 20-24 s, then again from 24 s
TIMELINE = build_timeline(
    [
        ("a", [seg("a", 0), seg("a", 1)]),
        ("b", [seg("b", 0), seg("b", 1), seg("b", 2)]),
        ("c", [seg("c", 0)]),
    ]
)


def slot(lesson: str, start: float, end: float) -> Slot:
    return Slot(lesson, EPOCH + start, EPOCH + end)


@pytest.mark.parametrize(
    ("elapsed", "now", "following"),
    [
        (-30, None, slot("a", 0, 8)),
        (0, slot("a", 0, 8), slot("b", 8, 20)),
        (7.999, slot("a", 0, 8), slot("b", 8, 20)),
        (8, slot("b", 8, 20), slot("c", 20, 24)),
        (21, slot("c", 20, 24), slot("a", 24, 32)),  # the loop wraps to its first lesson
        (24, slot("a", 24, 32), slot("b", 32, 44)),
        (24 * 1000 + 9, slot("b", 24_008, 24_020), slot("c", 24_020, 24_024)),
    ],
)
def test_on_air(elapsed: float, now: Slot | None, following: Slot) -> None:
    playing = on_air(TIMELINE, EPOCH, EPOCH + elapsed)
    assert (playing.now, playing.next) == (now, following)


def test_the_same_lesson_twice_in_a_row_is_two_slots() -> None:
    twice = build_timeline([("a", [seg("a", 0)]), ("a", [seg("a", 0)])])
    assert on_air(twice, EPOCH, EPOCH + 1).next == slot("a", 4, 8)


def lesson(lesson_id: str, grade: str = "", subject: str = "", title: str = "") -> Lesson:
    return Lesson(lesson_id, title or lesson_id, NOWHERE, (), grade, subject)


def test_shelves_group_by_grade_in_number_order_then_subject() -> None:
    library = [
        lesson("x", "Grade 10", "Math"),
        lesson("loose"),
        lesson("y", "Grade 9", "Science"),
        lesson("z", "Grade 9", "Art", title="B"),
        lesson("w", "Grade 9", "Art", title="A"),
    ]
    assert [(s.grade, s.subject, [item.id for item in s.lessons]) for s in shelves(library)] == [
        ("Grade 9", "Art", ["w", "z"]),
        ("Grade 9", "Science", ["y"]),
        ("Grade 10", "Math", ["x"]),
        ("Other lessons", "General", ["loose"]),  # no grade: last, whatever its name
    ]
    assert next_in_grade(library[4], library) == library[3]  # w -> z
    assert next_in_grade(library[3], library) == library[2]  # z -> y, across subjects
    assert next_in_grade(library[2], library) is None


def test_natural_key_compares_numbers_as_numbers() -> None:
    assert sorted(["Grade 10", "grade 9", "Grade 1"], key=natural_key) == [
        "Grade 1",
        "grade 9",
        "Grade 10",
    ]
