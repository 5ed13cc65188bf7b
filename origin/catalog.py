"""JSON catalog documents for /api/lessons and /api/channels (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from origin.models import Lesson, Rendition
from origin.schedule import Channel
from origin.timetable import Slot, on_air


def lesson_document(lesson: Lesson) -> dict[str, object]:
    return {
        "id": lesson.id,
        "title": lesson.title,
        "grade": lesson.grade or None,
        "subject": lesson.subject or None,
        "duration": round(lesson.duration, 3),
        "url": f"/vod/{lesson.id}/master.m3u8",
        "page": f"/watch/vod/{lesson.id}",
        "renditions": [_rendition(lesson.id, r) for r in lesson.renditions],
    }


def _rendition(lesson_id: str, rendition: Rendition) -> dict[str, object]:
    width, height = rendition.resolution or (None, None)
    return {
        "name": rendition.name,
        "bandwidth": rendition.bandwidth,
        "average_bandwidth": rendition.average_bandwidth,
        "resolution": f"{width}x{height}" if rendition.resolution else None,
        "width": width,
        "height": height,
        "codecs": rendition.codecs,
        "url": f"/vod/{lesson_id}/{rendition.uri}",
    }


def channel_document(channel: Channel, now: float, titles: dict[str, str]) -> dict[str, object]:
    timeline = next(iter(channel.timelines.values()))
    slots = on_air(timeline, channel.epoch, now)
    return {
        "id": channel.id,
        "title": channel.title,
        "url": f"/live/{channel.id}/master.m3u8",
        "page": f"/watch/live/{channel.id}",
        "lessons": list(channel.lessons),
        "renditions": [rendition.name for rendition in channel.renditions],
        "now_playing": _slot(slots.now, titles) if slots.now else None,
        "next": _slot(slots.next, titles),
    }


def _slot(slot: Slot, titles: dict[str, str]) -> dict[str, object]:
    return {
        "lesson": slot.lesson_id,
        "title": titles.get(slot.lesson_id, slot.lesson_id),
        "url": f"/vod/{slot.lesson_id}/master.m3u8",
        "start": iso_time(slot.start),
        "end": iso_time(slot.end),
    }


def iso_time(unix_seconds: float) -> str:
    """RFC 3339 in UTC, to the second: the page shows it in the viewer's local time."""
    return datetime.fromtimestamp(round(unix_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
