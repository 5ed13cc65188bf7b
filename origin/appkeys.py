"""App-scoped objects, typed (web.AppKey), shared by the app factory and the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from origin.assets import Assets
from origin.config import OriginConfig
from origin.faults import FaultInjector
from origin.files import FileStore
from origin.library import Library
from origin.llchannel import PartPlans
from origin.schedule import Channel
from origin.stats import RequestStats

Clock = Callable[[], float]  # wall-clock unix seconds, injected so tests can pick the instant
Sleep = Callable[[float], Awaitable[None]]  # how a held LL-HLS request waits; tests move a clock

CONFIG = web.AppKey("config", OriginConfig)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
LIBRARY = web.AppKey("library", Library)
SCAN_LOCK = web.AppKey("scan_lock", asyncio.Lock)
CHANNELS = web.AppKey("channels", dict[str, Channel])
FILES = web.AppKey("files", FileStore)
STATS = web.AppKey("stats", RequestStats)
FAULTS = web.AppKey("faults", FaultInjector)
ASSETS = web.AppKey("assets", Assets)
PART_PLANS = web.AppKey("part_plans", PartPlans)
SLEEP: web.AppKey[Sleep] = web.AppKey("sleep")
