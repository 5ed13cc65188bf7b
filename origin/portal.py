"""Portal handlers: the home page, the player pages, their assets and a 404 page of their own."""

from __future__ import annotations

from aiohttp import web

from origin.appkeys import ASSETS, CHANNELS, CLOCK, CONFIG, LIBRARY
from origin.errors import NotFound
from origin.handlers import find_lesson, generated, rescan, respond
from origin.http_rules import Representation
from origin.kinds import cache_control
from origin.pages import Links, render_not_found, render_portal
from origin.player_page import Player, live_next_html, quality_items, render_player, vod_next_html
from origin.portal_view import channel_card, next_in_grade, shelves

HTML_TYPE = "text/html; charset=utf-8"


def links_for(request: web.Request) -> Links:
    # "/" -> "", "/watch/live/x" -> "../../": every link is relative to the page itself
    return Links("../" * (request.path.count("/") - 1), request.app[ASSETS].paths())


def titles(app: web.Application) -> dict[str, str]:
    return {lesson.id: lesson.title for lesson in app[LIBRARY].lessons.values()}


async def respond_page(request: web.Request, html: str) -> web.StreamResponse:
    body = html.encode()
    cache = cache_control("page", request.app[CONFIG])
    # The page is made now; its ETag (a hash of the bytes) is what lets caches get a 304.
    return await respond(request, body, generated(body, HTML_TYPE, cache, request.app[CLOCK]()))


def not_found_page(request: web.Request, message: str) -> web.Response:
    html = render_not_found(message, links_for(request))
    return web.Response(status=404, text=html, content_type="text/html", charset="utf-8")


async def portal_page(request: web.Request) -> web.StreamResponse:
    app = request.app
    if app[LIBRARY].is_due_for_rescan():
        await rescan(app)
    now, names = app[CLOCK](), titles(app)
    cards = [channel_card(channel, now, names) for channel in app[CHANNELS].values()]
    library = shelves(app[LIBRARY].lessons.values())
    return await respond_page(request, render_portal(cards, library, links_for(request)))


async def watch_live(request: web.Request) -> web.StreamResponse:
    channel_id = request.match_info["channel"]
    channel = request.app[CHANNELS].get(channel_id)
    if channel is None:
        return not_found_page(request, f"There is no live channel called {channel_id!r}.")
    card = channel_card(channel, request.app[CLOCK](), titles(request.app))
    player = Player(
        kind="live",
        id=channel.id,
        title=card.now.title if card.now else channel.title,
        context=f"{channel.title} · live",
        master=f"live/{channel.id}/master.m3u8",
        renditions=quality_items(channel.renditions, f"live/{channel.id}"),
        next_html=live_next_html(card),
        low_latency=channel.is_low_latency,
    )
    return await respond_page(request, render_player(player, links_for(request)))


async def watch_vod(request: web.Request) -> web.StreamResponse:
    lesson_id = request.match_info["lesson"]
    try:
        lesson = await find_lesson(request.app, lesson_id)
    except NotFound:
        return not_found_page(request, f"There is no lesson called {lesson_id!r} in the library.")
    links = links_for(request)
    following = next_in_grade(lesson, request.app[LIBRARY].lessons.values())
    player = Player(
        kind="vod",
        id=lesson.id,
        title=lesson.title,
        context=" · ".join(part for part in (lesson.grade, lesson.subject) if part) or "Lesson",
        master=f"vod/{lesson.id}/master.m3u8",
        renditions=quality_items(lesson.renditions, f"vod/{lesson.id}"),
        next_html=vod_next_html(following, links),
    )
    return await respond_page(request, render_player(player, links))


async def watch_unknown(request: web.Request) -> web.Response:
    return not_found_page(
        request,
        "There is no such page. Players live at /watch/live/<channel> and /watch/vod/<lesson>.",
    )


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    found = request.app[ASSETS].find(name)
    if found is None:
        raise NotFound(f"no asset {name!r}")
    item, fingerprinted = found
    cache = cache_control("asset" if fingerprinted else "asset_alias", request.app[CONFIG])
    rep = Representation(len(item.body), item.etag, item.modified, item.content_type, cache)
    return await respond(request, item.body, rep)
