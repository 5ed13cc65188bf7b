"""Thin request handlers: look the object up, ask the pure rules what to send, send it."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from origin.appkeys import CHANNELS, CLOCK, CONFIG, FAULTS, FILES, LIBRARY, SCAN_LOCK, STATS
from origin.catalog import channel_document, lesson_document
from origin.delivery import deliver
from origin.errors import NotFound
from origin.faults import parse_settings
from origin.files import etag_for
from origin.http_rules import Representation, decide
from origin.kinds import cache_control, content_type_for, file_kind
from origin.live import live_window
from origin.metrics import OriginCollector
from origin.models import Lesson
from origin.playlists import render_live_media, render_master
from origin.schedule import Channel

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
JSON_TYPE = "application/json"


async def respond(request: web.Request, body: bytes, rep: Representation) -> web.StreamResponse:
    answer = decide(request.method, request.headers, rep)
    plan = request.app[FAULTS].body_plan(request.path, answer.length)
    return await deliver(request, answer, body, plan)


def generated(body: bytes, content_type: str, cache: str, modified: float | None) -> Representation:
    return Representation(len(body), etag_for(body), modified, content_type, cache)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: the library has lessons to serve (an empty one is a bad mount)."""
    if not request.app[LIBRARY].lessons:
        return web.Response(status=503, text="no lessons\n", headers={"Cache-Control": "no-store"})
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    registry = CollectorRegistry()
    registry.register(OriginCollector(request.app[STATS]))
    return web.Response(
        body=generate_latest(registry),
        headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
    )


async def find_lesson(app: web.Application, lesson_id: str) -> Lesson:
    library = app[LIBRARY]
    lesson = library.get(lesson_id)
    if lesson is None and library.is_due_for_rescan():
        await rescan(app)  # a folder dropped in since the last scan appears without a restart
        lesson = library.get(lesson_id)
    if lesson is None:
        raise NotFound(f"unknown lesson {lesson_id!r}")
    return lesson


async def rescan(app: web.Application) -> None:
    async with app[SCAN_LOCK]:
        if app[LIBRARY].is_due_for_rescan():
            await asyncio.to_thread(app[LIBRARY].scan)


async def vod_file(request: web.Request) -> web.StreamResponse:
    lesson = await find_lesson(request.app, request.match_info["lesson"])
    inner = request.match_info["path"]
    content_type = content_type_for(inner)
    if content_type is None:
        raise NotFound(f"{inner!r} is not a media file of lesson {lesson.id!r}")
    try:
        item = await request.app[FILES].read(lesson.path / inner)
    except OSError:
        raise NotFound(f"no file {inner!r} in lesson {lesson.id!r}") from None
    cache = cache_control(file_kind(inner), request.app[CONFIG])
    rep = Representation(len(item.body), item.etag, item.modified, content_type, cache)
    return await respond(request, item.body, rep)


def find_channel(request: web.Request) -> Channel:
    channel_id = request.match_info["channel"]
    channel = request.app[CHANNELS].get(channel_id)
    if channel is None:
        raise NotFound(f"unknown channel {channel_id!r}")
    return channel


async def live_master(request: web.Request) -> web.StreamResponse:
    channel = find_channel(request)
    body = render_master(channel.renditions).encode()
    cache = cache_control("live_master", request.app[CONFIG])
    return await respond(request, body, generated(body, PLAYLIST_TYPE, cache, channel.epoch))


async def live_media(request: web.Request) -> web.StreamResponse:
    channel = find_channel(request)
    name = request.match_info["rendition"]
    timeline = channel.timelines.get(name)
    if timeline is None:
        raise NotFound(f"unknown rendition {name!r} of channel {channel.id!r}")
    config = request.app[CONFIG]
    window = live_window(timeline, channel.epoch, request.app[CLOCK](), config.live_window)
    body = render_live_media(window).encode()
    cache = cache_control("live_media", config, window.target_duration)
    # Last-Modified is the newest segment's end: the same on every replica at the same time.
    return await respond(request, body, generated(body, PLAYLIST_TYPE, cache, window.newest_end))


async def api_lessons(request: web.Request) -> web.StreamResponse:
    if request.app[LIBRARY].is_due_for_rescan():
        await rescan(request.app)
    lessons = sorted(request.app[LIBRARY].lessons.values(), key=lambda lesson: lesson.id)
    return await respond_json(request, {"lessons": [lesson_document(item) for item in lessons]})


async def api_lesson(request: web.Request) -> web.StreamResponse:
    lesson = await find_lesson(request.app, request.match_info["lesson"])
    return await respond_json(request, lesson_document(lesson))


async def api_channels(request: web.Request) -> web.StreamResponse:
    titles = {lesson.id: lesson.title for lesson in request.app[LIBRARY].lessons.values()}
    now = request.app[CLOCK]()
    channels = [
        channel_document(channel, now, titles) for channel in request.app[CHANNELS].values()
    ]
    return await respond_json(request, {"channels": channels})


async def respond_json(request: web.Request, document: object) -> web.StreamResponse:
    body = orjson.dumps(document)
    cache = cache_control("api", request.app[CONFIG])
    return await respond(request, body, generated(body, JSON_TYPE, cache, None))


async def stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATS].snapshot())


async def stats_reset(request: web.Request) -> web.Response:
    request.app[STATS].reset()
    return json_response(request.app[STATS].snapshot())


async def faults_show(request: web.Request) -> web.Response:
    return json_response(_settings(request))


async def faults_replace(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    request.app[FAULTS].settings = parse_settings(body)
    return json_response(_settings(request))


def _settings(request: web.Request) -> dict[str, object]:
    return dataclasses.asdict(request.app[FAULTS].settings)


def json_response(document: object) -> web.Response:
    return web.Response(
        body=orjson.dumps(document), content_type=JSON_TYPE, headers={"Cache-Control": "no-store"}
    )
