"""Wiring: build the aiohttp application from a config and already-loaded library/schedule."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

from aiohttp import web

from origin import handlers, llhandlers, portal
from origin.appkeys import (
    ASSETS,
    CHANNELS,
    CLOCK,
    CONFIG,
    FAULTS,
    FILES,
    LIBRARY,
    PART_PLANS,
    SCAN_LOCK,
    SLEEP,
    STATS,
    Clock,
    Sleep,
)
from origin.assets import load_assets
from origin.config import OriginConfig
from origin.faults import FaultInjector
from origin.files import FileStore
from origin.library import Library
from origin.llchannel import plan_channels
from origin.middlewares import MIDDLEWARES
from origin.schedule import Channel, load_schedule, resolve_channels
from origin.stats import RequestStats


def load_state(config: OriginConfig) -> tuple[Library, dict[str, Channel]]:
    """Scan the library and validate the schedule against it; raises OriginError."""
    library = Library(config.content, time.monotonic, config.rescan_interval)
    library.scan()
    channels = resolve_channels(load_schedule(config.schedule), library.lessons)
    return library, channels


def make_app(
    config: OriginConfig,
    library: Library,
    channels: dict[str, Channel],
    clock: Clock = time.time,
    rng: random.Random | None = None,
    sleep: Sleep = asyncio.sleep,
) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[LIBRARY] = library
    app[CHANNELS] = channels
    app[PART_PLANS] = plan_channels(channels, library)  # reads the LL channels' segments once
    app[SLEEP] = sleep
    app[FILES] = FileStore(config.file_cache_bytes)
    app[STATS] = RequestStats()
    app[FAULTS] = FaultInjector(rng or random.Random(config.fault_seed))
    app[ASSETS] = load_assets(config.hls_js)
    app.cleanup_ctx.append(_scan_lock)
    add_routes(app, config.faults)
    return app


async def _scan_lock(app: web.Application) -> AsyncIterator[None]:
    app[SCAN_LOCK] = asyncio.Lock()  # bound to the running loop, so made at start-up
    yield


def add_routes(app: web.Application, faults: bool) -> None:
    get = app.router.add_get
    get("/healthz", handlers.healthz)
    get("/readyz", handlers.readyz)
    get("/metrics", handlers.metrics)
    get("/", portal.portal_page)
    get("/watch/live/{channel}", portal.watch_live)
    get("/watch/vod/{lesson}", portal.watch_vod)
    get("/watch/{rest:.*}", portal.watch_unknown)
    get("/assets/{name}", portal.asset)
    get("/vod/{lesson}/{path:.+}", handlers.vod_file)
    get("/live/{channel}/master.m3u8", handlers.live_master)
    get("/live/{channel}/{rendition}/index.m3u8", llhandlers.media_playlist)
    get("/live/{channel}/{rendition}/parts/{name}", llhandlers.part)
    get("/api/lessons", handlers.api_lessons)
    get("/api/lessons/{lesson}", handlers.api_lesson)
    get("/api/channels", handlers.api_channels)
    get("/_stats", handlers.stats)
    app.router.add_post("/_stats/reset", handlers.stats_reset)
    if faults:
        get("/_faults", handlers.faults_show)
        app.router.add_post("/_faults", handlers.faults_replace)
