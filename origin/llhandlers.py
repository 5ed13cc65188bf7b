"""Low-latency channel answers: blocking playlist reloads, delta updates and parts (rfc8216bis).

The rules are decided in plain code (`hold_for`), then the handler sleeps until the part clock
says the asked-for part exists and renders the playlist at that instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from classcast.llhls import DirectiveError, Directives, delta_update, parse_directives
from origin import handlers
from origin.appkeys import CLOCK, CONFIG, FILES, LIBRARY, PART_PLANS, SLEEP
from origin.errors import BadRequest, NotFound, RequestError
from origin.files import etag_for
from origin.http_rules import Representation
from origin.kinds import cache_control, content_type_for
from origin.live import Timeline
from origin.llchannel import segment_path
from origin.llplaylists import RenditionReport, render_ll_media
from origin.parts import LiveParts, PartPlan, exists_at, live_parts
from origin.schedule import Channel
from origin.tsparts import part_body

# rfc8216bis 6.2.5.2: a request that cannot be satisfied within three target durations is 503.
HOLD_TARGET_DURATIONS = 3
# rfc8216bis 6.2.5.2: the Advance Part Limit is 3 parts, or 3 s worth of parts below 1 s.
ADVANCE_PART_SECONDS = 3.0
# rfc8216bis Appendix B: a blocking reload's answer never changes, keep it for 6 target
# durations; a plain reload changes every part, so one second (the smallest max-age).
BLOCKING_MAX_AGE_TARGET_DURATIONS = 6
PLAIN_LL_MAX_AGE = 1
PART_NAME = re.compile(r"(\d{1,18})\.(\d{1,6})\.ts")


class Unavailable(RequestError):
    status = 503


@dataclass(frozen=True)
class Rendition:
    channel: Channel
    name: str
    timeline: Timeline
    plan: PartPlan


def find_rendition(request: web.Request) -> Rendition | None:
    """None for a legacy channel; NotFound for an unknown channel or rendition."""
    channel = handlers.find_channel(request)
    name = request.match_info["rendition"]
    timeline = channel.timelines.get(name)
    if timeline is None:
        raise NotFound(f"unknown rendition {name!r} of channel {channel.id!r}")
    plans = request.app[PART_PLANS].get(channel.id)
    if plans is None:
        return None
    return Rendition(channel, name, timeline, plans[name])


def hold_for(rendition: Rendition, live: LiveParts, asked: Directives, now: float) -> float:
    """Seconds to hold a blocking reload (0: answer now); raises the spec's 400 and 503."""
    if asked.msn is None:
        return 0.0
    if asked.msn > live.last_msn + 2:
        raise BadRequest(f"_HLS_msn={asked.msn} is more than two segments past {live.last_msn}")
    last_part = live.last_part(rendition.plan, rendition.timeline)
    limit = max(3, int(ADVANCE_PART_SECONDS / rendition.plan.part_target))
    if asked.part is not None and asked.msn == live.last_msn and asked.part > last_part + limit:
        raise BadRequest(f"_HLS_part={asked.part} is past the advance part limit")
    ready = exists_at(rendition.timeline, rendition.plan, rendition.channel.epoch, *_asked(asked))
    wait = ready - now
    if wait > HOLD_TARGET_DURATIONS * rendition.timeline.target_duration:
        raise Unavailable("the asked-for segment will not exist within three target durations")
    return max(0.0, wait)


def _asked(asked: Directives) -> tuple[int, int | None]:
    assert asked.msn is not None
    return asked.msn, asked.part


async def media_playlist(request: web.Request) -> web.StreamResponse:
    rendition = find_rendition(request)
    if rendition is None:
        return await handlers.live_media(request)
    try:
        asked = parse_directives(request.query_string)
    except DirectiveError as error:
        raise BadRequest(str(error)) from None
    app = request.app
    config = app[CONFIG]
    now = app[CLOCK]()
    live = _live(rendition, now, config.live_window)
    wait = hold_for(rendition, live, asked, now)
    if wait > 0:
        await app[SLEEP](wait)
        now = max(app[CLOCK](), now + wait)  # a sleep may wake a hair early
        live = _live(rendition, now, config.live_window)
    text = render_ll_media(
        live, rendition.plan, rendition.timeline, _reports(request, rendition, now)
    )
    body = delta_update(text, asked.skip).encode()
    target = live.window.target_duration
    age = BLOCKING_MAX_AGE_TARGET_DURATIONS * target if asked.blocks else PLAIN_LL_MAX_AGE
    modified = live.newest_end(rendition.plan, rendition.timeline)
    rep = handlers.generated(body, handlers.PLAYLIST_TYPE, f"public, max-age={age}", modified)
    return await handlers.respond(request, body, rep)


def _live(rendition: Rendition, now: float, window: int) -> LiveParts:
    return live_parts(rendition.timeline, rendition.plan, rendition.channel.epoch, now, window)


def _reports(request: web.Request, rendition: Rendition, now: float) -> list[RenditionReport]:
    """rfc8216bis 4.4.5.4: where every other rendition of the channel ends, for fast switches."""
    channel = rendition.channel
    plans = request.app[PART_PLANS][channel.id]
    reports = []
    for name, timeline in channel.timelines.items():
        if name == rendition.name:
            continue
        other = live_parts(
            timeline, plans[name], channel.epoch, now, request.app[CONFIG].live_window
        )
        reports.append(
            RenditionReport(
                f"../{name}/index.m3u8", other.last_msn, other.last_part(plans[name], timeline)
            )
        )
    return reports


async def part(request: web.Request) -> web.StreamResponse:
    """A part, held until the part clock says it exists (the preload hint asks for it early)."""
    rendition = find_rendition(request)
    if rendition is None:
        raise NotFound(f"channel {request.match_info['channel']!r} is not low-latency")
    match = PART_NAME.fullmatch(request.match_info["name"])
    if match is None:
        raise NotFound(f"{request.match_info['name']!r} is not a part name like 120.3.ts")
    msn, index = int(match[1]), int(match[2])
    timeline, plan = rendition.timeline, rendition.plan
    layout = plan.layout(timeline, msn)
    if index >= len(layout.parts):
        raise NotFound(f"segment {msn} has {len(layout.parts)} parts")
    app = request.app
    now = app[CLOCK]()
    wait = exists_at(timeline, plan, rendition.channel.epoch, msn, index) - now
    if wait > HOLD_TARGET_DURATIONS * timeline.target_duration:
        # Too far ahead to hold; not stored, since it will exist later.
        raise NotFound(f"part {msn}.{index} does not exist yet", {"Cache-Control": "no-store"})
    if wait > 0:
        await app[SLEEP](wait)
    entry = timeline.entries[msn % len(timeline.entries)]
    try:
        item = await app[FILES].read(segment_path(app[LIBRARY], entry.uri))
    except OSError:
        raise NotFound(f"segment file of part {msn}.{index} is gone") from None
    body = part_body(item.body, layout, index)
    cache = cache_control("segment", app[CONFIG])
    content_type = content_type_for(entry.uri) or "video/mp2t"
    rep = Representation(len(body), etag_for(body), item.modified, content_type, cache)
    return await handlers.respond(request, body, rep)
