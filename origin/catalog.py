"""JSON catalog documents for /api/lessons and /api/channels (pure)."""

from __future__ import annotations

from origin.live import now_playing
from origin.models import Lesson, Rendition
from origin.schedule import Channel


def lesson_document(lesson: Lesson) -> dict[str, object]:
    return {
        "id": lesson.id,
        "title": lesson.title,
        "duration": round(lesson.duration, 3),
        "url": f"/vod/{lesson.id}/master.m3u8",
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
    on_air = now_playing(timeline, channel.epoch, now)
    playing = None
    if on_air is not None:
        lesson_id = on_air.lesson_id
        playing = {
            "lesson": lesson_id,
            "title": titles.get(lesson_id, lesson_id),
            "url": f"/vod/{lesson_id}/master.m3u8",
        }
    return {
        "id": channel.id,
        "title": channel.title,
        "url": f"/live/{channel.id}/master.m3u8",
        "lessons": list(channel.lessons),
        "renditions": [rendition.name for rendition in channel.renditions],
        "now_playing": playing,
    }
