"""config/schedule.toml: live channels, each a timetable of lessons looped from an epoch."""

from __future__ import annotations

import dataclasses
import posixpath
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from origin.errors import ScheduleError
from origin.live import Timeline, build_timeline
from origin.models import Lesson, Rendition, Segment, is_safe_name

LIVE_MEDIA_PLAYLIST = "index.m3u8"


@dataclass(frozen=True)
class ChannelSpec:
    id: str
    title: str
    epoch: float  # unix seconds
    lessons: tuple[str, ...]
    part_duration: float | None = None  # seconds; None: a legacy (not low-latency) channel


@dataclass(frozen=True)
class Channel:
    id: str
    title: str
    epoch: float
    lessons: tuple[str, ...]
    renditions: tuple[Rendition, ...]  # master-playlist attributes, URIs relative to the master
    timelines: Mapping[str, Timeline]  # by rendition name
    part_duration: float | None = None  # LL-HLS part duration; None for a legacy channel

    @property
    def is_low_latency(self) -> bool:
        return self.part_duration is not None


def load_schedule(path: Path) -> tuple[ChannelSpec, ...]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ScheduleError(f"schedule {path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ScheduleError(f"schedule {path}: {error}") from None
    return parse_schedule(data)


def parse_schedule(data: Mapping[str, Any]) -> tuple[ChannelSpec, ...]:
    channels = data.get("channels")
    if not isinstance(channels, dict) or not channels:
        raise ScheduleError("schedule: no [channels.<id>] tables")
    return tuple(_parse_channel(name, table) for name, table in channels.items())


def _parse_channel(channel_id: str, table: object) -> ChannelSpec:
    where = f"schedule: channels.{channel_id}"
    if not is_safe_name(channel_id):
        raise ScheduleError(f"{where}: channel id is not a safe name ([A-Za-z0-9._-]+)")
    if not isinstance(table, dict):
        raise ScheduleError(f"{where}: must be a table")
    lessons = table.get("lessons")
    if not isinstance(lessons, list) or not lessons:
        raise ScheduleError(f"{where}.lessons: must be a non-empty list of lesson ids")
    if not all(isinstance(lesson, str) for lesson in lessons):
        raise ScheduleError(f"{where}.lessons: every entry must be a lesson id string")
    title = table.get("title", channel_id)
    if not isinstance(title, str):
        raise ScheduleError(f"{where}.title: must be a string")
    epoch = parse_epoch(table.get("epoch"), where)
    return ChannelSpec(channel_id, title, epoch, tuple(lessons), _part_duration(table, where))


# rfc8216bis 4.4.3.7 leaves the part target to the server; below 0.1 s a part holds two or three
# frames and a request per part costs more than it brings, above 2 s there is little low latency.
PART_DURATION_RANGE = (0.1, 2.0)
DEFAULT_PART_DURATION = 0.5


def _part_duration(table: dict[str, Any], where: str) -> float | None:
    low_latency = table.get("low_latency", False)
    if not isinstance(low_latency, bool):
        raise ScheduleError(f"{where}.low_latency: must be true or false")
    duration = table.get("part_duration", DEFAULT_PART_DURATION)
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise ScheduleError(f"{where}.part_duration: must be a number of seconds")
    low, high = PART_DURATION_RANGE
    if not low <= duration <= high:
        raise ScheduleError(f"{where}.part_duration: must be {low}..{high} seconds, got {duration}")
    return float(duration) if low_latency else None


def parse_epoch(value: object, where: str) -> float:
    """An RFC 3339 date-time with an offset, as a TOML date-time or a string."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ScheduleError(f"{where}.epoch: {value!r} is not an RFC 3339 time") from None
    if not isinstance(moment, datetime):
        raise ScheduleError(f"{where}.epoch: must be an RFC 3339 time like 2025-09-01T08:00:00Z")
    if moment.utcoffset() is None:
        raise ScheduleError(f"{where}.epoch: {moment.isoformat()} needs a UTC offset (e.g. Z)")
    return moment.timestamp()


def resolve_channels(
    specs: tuple[ChannelSpec, ...], lessons: Mapping[str, Lesson]
) -> dict[str, Channel]:
    return {spec.id: resolve_channel(spec, lessons) for spec in specs}


def resolve_channel(spec: ChannelSpec, lessons: Mapping[str, Lesson]) -> Channel:
    where = f"schedule: channels.{spec.id}"
    unknown = [lesson_id for lesson_id in spec.lessons if lesson_id not in lessons]
    if unknown:
        raise ScheduleError(f"{where}.lessons: unknown lesson {unknown[0]!r}")
    playing = [lessons[lesson_id] for lesson_id in spec.lessons]
    names = playing[0].rendition_names
    for lesson in playing[1:]:
        if set(lesson.rendition_names) != set(names):
            raise ScheduleError(
                f"{where}: lesson {lesson.id!r} has renditions {sorted(lesson.rendition_names)}"
                f" but {playing[0].id!r} has {sorted(names)}; all lessons must share them"
            )
    timelines = {name: _timeline(playing, name, where) for name in names}
    renditions = tuple(_merged_rendition(playing, name) for name in names)
    return Channel(
        spec.id, spec.title, spec.epoch, spec.lessons, renditions, timelines, spec.part_duration
    )


def _timeline(playing: list[Lesson], name: str, where: str) -> Timeline:
    parts = []
    for lesson in playing:
        rendition = lesson.rendition(name)
        assert rendition is not None  # checked by resolve_channel
        parts.append(
            (
                lesson.id,
                tuple(_vod_segment(lesson, rendition, s, where) for s in rendition.segments),
            )
        )
    return build_timeline(parts)


def _vod_segment(lesson: Lesson, rendition: Rendition, segment: Segment, where: str) -> Segment:
    """Point live playlists at the VOD objects so an edge caches each segment once."""
    if "://" in segment.uri or segment.uri.startswith("/"):
        raise ScheduleError(f"{where}: lesson {lesson.id!r} has non-relative segment URIs")
    path = posixpath.normpath(posixpath.join(lesson.id, rendition.folder, segment.uri))
    if path.startswith(("..", f"{lesson.id}/..")) or not path.startswith(f"{lesson.id}/"):
        raise ScheduleError(f"{where}: lesson {lesson.id!r} segment {segment.uri!r} leaves it")
    return dataclasses.replace(segment, uri=f"/vod/{path}")


def _merged_rendition(playing: list[Lesson], name: str) -> Rendition:
    # RFC 8216 4.3.4.2: BANDWIDTH must cover every segment the variant can carry, so take the
    # largest figure over the whole timetable.
    variants = [r for r in (lesson.rendition(name) for lesson in playing) if r is not None]
    first = variants[0]
    averages = [r.average_bandwidth for r in variants if r.average_bandwidth]
    return dataclasses.replace(
        first,
        uri=f"{name}/{LIVE_MEDIA_PLAYLIST}",
        bandwidth=max(r.bandwidth for r in variants),
        average_bandwidth=max(averages) if averages else None,
        segments=(),
    )
