"""Schedule parsing and its validation against the library."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from origin.errors import ScheduleError
from origin.library import Library
from origin.models import Lesson
from origin.schedule import load_schedule, parse_schedule, resolve_channels

from .conftest import CONTENT, EPOCH, SCHEDULE


@pytest.fixture(scope="module")
def lessons() -> dict[str, Lesson]:
    library = Library(CONTENT, lambda: 0.0, 1.0)
    library.scan()
    return library.lessons


def channel(**table: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "Grade 5",
        "epoch": "2025-09-01T08:00:00Z",
        "lessons": ["math-fractions"],
    }
    return {"channels": {"grade-5": {**base, **table}}}


def test_the_shipped_schedule_resolves_against_the_sample_library(
    lessons: dict[str, Lesson],
) -> None:
    channels = resolve_channels(load_schedule(SCHEDULE), lessons)
    assert set(channels) == {"grade-5", "grade-8", "grade-10"}
    grade5 = channels["grade-5"]
    assert grade5.epoch == EPOCH
    assert [r.name for r in grade5.renditions] == ["360p", "180p"]
    first = grade5.timelines["360p"].entries[0]
    assert first.uri == "/vod/math-fractions/360p/seg_00000.ts"
    assert len(grade5.timelines["180p"].entries) == 30  # 3 lessons x 10 segments of 4 s


@pytest.mark.parametrize(
    "epoch",
    [
        datetime(2025, 9, 1, 8, tzinfo=UTC),
        "2025-09-01T08:00:00Z",
        "2025-09-01T10:00:00+02:00",
    ],
)
def test_epoch_forms(epoch: object) -> None:
    assert parse_schedule(channel(epoch=epoch))[0].epoch == EPOCH


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"epoch": "yesterday"}, "channels.grade-5.epoch: 'yesterday' is not an RFC 3339 time"),
        ({"epoch": "2025-09-01T08:00:00"}, "needs a UTC offset"),
        ({"epoch": 5}, "must be an RFC 3339 time"),
        ({"lessons": []}, "channels.grade-5.lessons: must be a non-empty list"),
        ({"lessons": "math"}, "must be a non-empty list"),
        ({"lessons": [1]}, "every entry must be a lesson id string"),
        ({"title": 7}, "channels.grade-5.title: must be a string"),
    ],
)
def test_bad_channel_tables(table: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(channel(**table))


def test_no_channels() -> None:
    with pytest.raises(ScheduleError, match=r"no \[channels.<id>\] tables"):
        parse_schedule({})


def test_unsafe_channel_id() -> None:
    with pytest.raises(ScheduleError, match="not a safe name"):
        parse_schedule({"channels": {"..": channel()["channels"]["grade-5"]}})  # type: ignore[index]


def test_unknown_lesson(lessons: dict[str, Lesson]) -> None:
    specs = parse_schedule(channel(lessons=["math-fractions", "astronomy"]))
    with pytest.raises(
        ScheduleError, match=r"channels\.grade-5\.lessons: unknown lesson 'astronomy'"
    ):
        resolve_channels(specs, lessons)


def test_renditions_must_be_shared(lessons: dict[str, Lesson]) -> None:
    math = lessons["math-fractions"]
    odd = dataclasses.replace(math, id="odd", renditions=math.renditions[:1])
    specs = parse_schedule(channel(lessons=["math-fractions", "odd"]))
    with pytest.raises(ScheduleError, match="lesson 'odd' has renditions"):
        resolve_channels(specs, {**lessons, "odd": odd})


def test_unreadable_schedule_file(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="no such file"):
        load_schedule(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[channels\n")
    with pytest.raises(ScheduleError, match=r"broken\.toml"):
        load_schedule(broken)
