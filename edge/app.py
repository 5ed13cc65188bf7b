"""Wiring and lifetimes: config in, an aiohttp Application out (STYLE 3, 4)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from edge.admin import Admin
from edge.cache import EdgeCache
from edge.config import EdgeConfig
from edge.disk import DiskTier
from edge.dispatch import Dispatcher, Handler
from edge.handlers import ContentHandler
from edge.keys import HLS_DIRECTIVES
from edge.memory import MemoryTier
from edge.metrics import EdgeCollector, Stats
from edge.policy import PolicyDefaults
from edge.responses import HeaderPolicy, Responder
from edge.sendfile import SendStats
from edge.upstream import Upstream

log = logging.getLogger("edge")

CONFIG = web.AppKey("config", EdgeConfig)
CACHE = web.AppKey("cache", EdgeCache)
STATS = web.AppKey("stats", Stats)
SENDS = web.AppKey("sends", SendStats)
REGISTRY = web.AppKey("registry", CollectorRegistry)
DISPATCH: web.AppKey[Handler] = web.AppKey("dispatch")


def build_app(
    config: EdgeConfig,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> web.Application:
    app = web.Application(handler_args={"max_field_size": 8190, "max_line_size": 8190})
    app[CONFIG] = config
    app[STATS] = Stats()
    app[SENDS] = SendStats()
    app.cleanup_ctx.append(lambda app: _cache_lifetime(app, clock, monotonic))
    return app


async def _cache_lifetime(
    app: web.Application, clock: Callable[[], float], monotonic: Callable[[], float]
) -> AsyncIterator[None]:
    config = app[CONFIG]
    own_dir = not config.cache_dir
    root = Path(tempfile.mkdtemp(prefix="classcast-edge-") if own_dir else config.cache_dir)
    disk = DiskTier(root, config.disk_bytes, config.max_open_files)
    kept = await disk.load()
    log.info("disk tier ready", extra={"dir": str(root), "entries": kept, "bytes": disk.bytes_used})
    upstream = Upstream(
        list(config.upstreams),
        via=config.node_id,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retries=config.retries,
        clock=monotonic,
    )
    await upstream.start()
    keep_query = frozenset(config.keep_query) | HLS_DIRECTIVES
    cache = EdgeCache(
        MemoryTier(config.ram_bytes, config.ram_object_max_bytes),
        disk,
        upstream,
        app[STATS],
        defaults=PolicyDefaults(
            master_ttl=config.master_ttl,
            vod_playlist_ttl=config.vod_playlist_ttl,
            segment_ttl=config.segment_ttl,
            negative_ttl=config.negative_ttl,
        ),
        keep_query=keep_query,
        prefetch_segments=config.prefetch_segments,
        playlist_deadline_s=config.playlist_fill_timeout,
        clock=clock,
        monotonic=monotonic,
    )
    app[CACHE] = cache
    registry = CollectorRegistry()
    registry.register(EdgeCollector(app[STATS], lambda: _gauges(cache, app[SENDS])))
    app[REGISTRY] = registry
    responder = Responder(
        HeaderPolicy(config.node_id, config.cors_origin),
        disk,
        app[STATS],
        app[SENDS],
        use_sendfile=config.sendfile,
    )
    handler = ContentHandler(
        cache,
        responder,
        keep_query=keep_query,
        node_id=config.node_id,
        refresh_ahead_s=config.refresh_ahead_s,
        clock=clock,
        sign_keys=config.sign_keys,  # signed URLs (issue 9)
    )
    admin = Admin(cache, config.admin_token, config.admin_remote, keep_query)

    async def metrics(request: web.BaseRequest) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    dispatcher = Dispatcher(
        handler.handle,
        {
            "/healthz": ("GET", healthz),
            "/readyz": ("GET", healthz),
            "/metrics": ("GET", metrics),
            "/_admin/purge": ("POST", admin.purge),
        },
    )
    app[DISPATCH] = dispatcher.handle
    app.router.add_route("*", "/{path:.*}", dispatcher.handle)
    try:
        yield
    finally:
        await cache.close()
        await upstream.close()
        await disk.close()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def _gauges(cache: EdgeCache, sends: SendStats) -> dict[str, float]:
    return {
        "ram_bytes": cache.memory.bytes_used,
        "ram_objects": len(cache.memory),
        "disk_bytes": cache.disk.bytes_used,
        "disk_objects": len(cache.disk),
        "disk_evictions": cache.disk.evictions,
        "fills_in_flight": len(cache.fills),
        "zero_copy_bytes": sends.zero_copy_bytes,
        "copied_bytes": sends.copied_bytes,
        "upstream_requests": cache.upstream.requests,
        "upstream_attempt_errors": cache.upstream.errors,
        "disk_meta_errors": cache.disk.errors,
    }


async def healthz(request: web.BaseRequest) -> web.Response:
    return web.Response(text="ok\n")
