"""Low-latency channels at start-up: cut every segment of their timetables into parts, once.

The cut depends only on the segment files, so it is made when the app is built and every answer
after that (playlists, the part clock, part bodies) is a pure function of the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from origin.errors import ScheduleError
from origin.library import Library
from origin.live import Timeline
from origin.parts import PartPlan
from origin.schedule import Channel
from origin.tsparts import TsError, cut_parts

PartPlans = dict[str, dict[str, PartPlan]]  # channel id -> rendition name -> plan


def plan_channels(channels: Mapping[str, Channel], library: Library) -> PartPlans:
    plans: PartPlans = {}
    for channel in channels.values():
        if channel.part_duration is None:
            continue
        plans[channel.id] = {
            name: plan_timeline(channel, timeline, library)
            for name, timeline in channel.timelines.items()
        }
    return plans


def plan_timeline(channel: Channel, timeline: Timeline, library: Library) -> PartPlan:
    assert channel.part_duration is not None
    layouts = []
    for entry in timeline.entries:
        path = segment_path(library, entry.uri)
        try:
            layouts.append(cut_parts(path.read_bytes(), channel.part_duration, entry.duration))
        except (OSError, TsError) as error:
            raise ScheduleError(
                f"schedule: channels.{channel.id}: cannot cut {entry.uri} into parts ({error});"
                " low_latency needs MPEG-TS segments"
            ) from None
    return PartPlan(tuple(layouts))


def segment_path(library: Library, uri: str) -> Path:
    """The file behind a live playlist's segment URI (/vod/<lesson>/<path>, schedule.py)."""
    _, _, rest = uri.partition("/vod/")
    lesson_id, _, inner = rest.partition("/")
    lesson = library.get(lesson_id)
    if lesson is None:
        raise ScheduleError(f"schedule: segment {uri!r} names an unknown lesson")
    return lesson.path / inner
