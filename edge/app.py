"""Wiring and lifetimes: config in, a running edge out (STYLE 3, 4).

`running_edge` sets up the tiers, the upstream client, the cache and the HTTP server in order,
and tears them down in reverse: stop accepting and drain the connections, then the fills, the
upstream sessions and the disk tier's chores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from edge.cache.cache import EdgeCache
from edge.cache.disk import DiskOwner, DiskTier, DiskView
from edge.cache.fetch import Fetcher
from edge.cache.freshness import FreshnessDefaults
from edge.cache.hot import HotTier
from edge.cache.keys import HLS_DIRECTIVES
from edge.cache.memory import MemoryTier
from edge.cache.stats import UPSTREAM_BUCKETS, Histogram, Stats
from edge.cache.upstream import Upstream
from edge.config import EdgeConfig, listeners, rate_burst
from edge.http.accesslog import AccessLog
from edge.http.heads import HeadBuilder
from edge.http.listen import Listener, bind, bound
from edge.http.messages import Answer, Request
from edge.http.protocol import Limits
from edge.http.ratelimit import ClientRates
from edge.http.server import HttpServer
from edge.http.tls import ServerTls, secret_from
from edge.metrics import EdgeCollector, SnapshotCollector
from edge.node.link import NodeLink
from edge.serve.admin import Admin
from edge.serve.answers import Responder
from edge.serve.audience import Audience, merged
from edge.serve.dispatch import Dispatcher
from edge.serve.handler import ContentHandler
from edge.serve.signing import redact
from edge.serve.viewers import Viewers

log = logging.getLogger("edge")

HEALTHY = Answer(200, b"Content-Type: text/plain\r\nCache-Control: no-store\r\n", b"ok\n")


@dataclass(slots=True)
class Edge:
    """One running edge process: what tests and /metrics look into."""

    config: EdgeConfig
    cache: EdgeCache
    stats: Stats
    server: HttpServer
    handler: ContentHandler
    registry: CollectorRegistry
    listeners: list[Listener]  # as bound: port 0 replaced by the port it got
    tls: ServerTls | None = None

    @property
    def port(self) -> int:
        return self.listeners[0].port

    @property
    def url(self) -> str:
        """The first listener's URL, without the trailing slash (tests add paths to it)."""
        return self.listeners[0].url.rstrip("/")

    @property
    def urls(self) -> list[str]:
        return [listener.url for listener in self.listeners]


def limits(config: EdgeConfig) -> Limits:
    off = float("inf")  # 0 turns a timeout off
    return Limits(
        header_timeout=config.header_timeout or off,
        idle_timeout=config.idle_timeout or off,
        max_body=config.max_request_body,
    )


@contextlib.asynccontextmanager
async def running_edge(
    config: EdgeConfig,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    *,
    node: NodeLink | None = None,
    socks: Sequence[socket.socket] | None = None,
) -> AsyncIterator[Edge]:
    """A lone edge, or (`node`, `socks`) a worker of a node on the sockets its supervisor
    bound, one per listener of `config` in order."""
    async with contextlib.AsyncExitStack() as stack:
        own_dir = not config.cache_dir
        root = Path(tempfile.mkdtemp(prefix="classcast-edge-") if own_dir else config.cache_dir)
        if own_dir:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        memory = MemoryTier(config.ram_bytes, config.ram_object_max_bytes)
        disk: DiskTier
        if node is None:
            disk = DiskOwner(root, config.disk_bytes, config.max_open_files)
        else:  # a worker's view of the files its supervisor's hub owns
            disk = view = DiskView(root, config.disk_bytes, config.max_open_files)
            node.bind(memory, view, clock)
        kept = await disk.load()
        stack.push_async_callback(disk.close)
        hot = hot_tier(config, disk, monotonic, workers=1 if node is None else config.workers)
        stack.push_async_callback(hot.close)
        log.info("disk tier ready", extra={"dir": str(root), "entries": kept})
        upstream = Upstream(
            list(config.upstreams),
            via=config.node_id,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries=config.retries,
            clock=monotonic,
            ca_file=config.upstream_ca,
            retry_budget=config.retry_budget,
        )
        await upstream.start()
        stack.push_async_callback(upstream.close)
        keep_query = frozenset(config.keep_query) | HLS_DIRECTIVES
        stats = Stats(upstream_durations=Histogram(UPSTREAM_BUCKETS) if config.viewers else None)
        fetcher = Fetcher(
            memory,
            disk,
            upstream,
            stats,
            defaults=FreshnessDefaults(
                master_ttl=config.master_ttl,
                vod_playlist_ttl=config.vod_playlist_ttl,
                segment_ttl=config.segment_ttl,
                negative_ttl=config.negative_ttl,
                hls_error_statuses=frozenset(config.hls_error_statuses),
                live_fresh_fraction=config.live_fresh_fraction,
                live_stale_tds=config.live_stale_tds,
                live_error_tds=config.live_error_tds,
                heuristic_fraction=config.heuristic_fraction,
                heuristic_max=config.heuristic_max,
            ),
            playlist_deadline_s=config.playlist_fill_timeout,
            on_store=node.stored if node is not None else None,
            clock=clock,
            monotonic=monotonic,
        )
        cache = EdgeCache(
            memory,
            disk,
            fetcher,
            stats,
            keep_query=keep_query,
            prefetch_segments=config.prefetch_segments,
            refresh_ahead_s=config.refresh_ahead_s,
            clock=clock,
            coordinator=node,
            hot=hot,
        )
        stack.push_async_callback(cache.close)
        if node is not None:  # from now on: the node's purges reach this worker's copies
            node.local_purge = cache.purged
        heads = HeadBuilder(config.node_id, config.cors_origin)

        async def invalidate(names: list[str]) -> None:
            """RFC 9111 4.4 after an unsafe method: every worker of the node forgets them."""
            for name in names:
                if node is None:
                    cache.invalidated(name)
                    continue
                try:
                    await node.purge(name, False)
                    await node.purge(name + "#", True)
                except TimeoutError:
                    log.warning("invalidation not confirmed by every worker", extra={"key": name})

        handler = ContentHandler(
            cache,
            Responder(heads, disk, hot),
            stats,
            keep_query=keep_query,
            node_id=config.node_id,
            clock=clock,
            sign_keys=config.sign_keys,
            refused_methods=frozenset(config.refused_methods),
            invalidate=invalidate,
        )
        endpoints = ("/healthz", "/readyz", "/metrics", "/_admin/purge", "/_admin/viewers")
        viewers = _viewers(config, cache, clock, keep_query, frozenset(endpoints))
        if viewers is not None:
            folding = asyncio.ensure_future(viewers.keep_folding())
            stack.callback(folding.cancel)
        admin = Admin(
            cache,
            config.admin_token,
            config.admin_remote,
            keep_query,
            node_purge=node.purge if node is not None else None,
            viewers=_lookup(viewers, node),
        )
        registry = CollectorRegistry()

        def metrics(request: Request) -> Answer:
            return _metrics_answer(registry)

        async def node_metrics(request: Request) -> Answer:
            assert node is not None
            try:
                total, workers, tallies = await node.gather()
            except TimeoutError:
                return heads.error(503, "the node's workers did not answer in time")
            counts = merged(tallies) if viewers is not None else None
            node_registry = CollectorRegistry()
            node_registry.register(SnapshotCollector(total, workers, counts))
            return _metrics_answer(node_registry)

        dispatcher = Dispatcher(
            handler.handle,
            {
                "/healthz": ("GET", lambda request: HEALTHY),
                "/readyz": ("GET", lambda request: HEALTHY),
                "/metrics": ("GET", metrics if node is None else node_metrics),
                "/_admin/purge": ("POST", admin.purge),
                "/_admin/viewers": ("GET", admin.viewers),
            },
            heads,
        )
        wanted = listeners(config)
        tls = _server_tls(config, clock) if any(lst.tls for lst in wanted) else None
        server = HttpServer(
            dispatcher.handle,
            limits(config),
            access_log=AccessLog(redact=redact) if config.access_log else None,
            observer=viewers.answered if viewers is not None else None,
            use_sendfile=config.sendfile,
            refusal=heads.error,
            max_conns_per_client=config.max_conns_per_client,
            rates=_rates(config, monotonic),
            monotonic=monotonic,
            tls_head=_tls_head(config),
        )
        collector = EdgeCollector(
            stats, lambda: _gauges(cache, server), lambda: server.stats.bytes_sent, viewers
        )
        registry.register(collector)
        if node is not None:
            node.local_snapshot = collector.snapshot
            if viewers is not None:
                node.local_viewers = viewers.tally
                node.local_lookup = viewers.lookup
        if socks is None:
            socks = [bind(listener) for listener in wanted]
        for sock in socks:
            stack.callback(sock.close)
        for listener, sock in zip(wanted, socks, strict=True):
            context = tls.context if tls is not None and listener.tls else None
            await server.listen("", 0, sock=sock, tls=context)
        if tls is not None:
            tls.start_rotation()
            stack.callback(tls.stop_rotation)
        server.start_ticking()
        # first out on the way down: stop accepting, let answers in flight finish
        stack.push_async_callback(server.stop, config.shutdown_timeout)
        here = [bound(listener, sock) for listener, sock in zip(wanted, socks, strict=True)]
        yield Edge(config, cache, stats, server, handler, registry, here, tls)


def _server_tls(config: EdgeConfig, clock: Callable[[], float]) -> ServerTls:
    return ServerTls(
        config.tls_cert,
        config.tls_key,
        config.tls_profile,
        ticket_secret=secret_from(config.tls_ticket_secret),
        ticket_rotate_s=config.tls_ticket_rotate_s,
        clock=clock,
    )


def _tls_head(config: EdgeConfig) -> bytes:
    """RFC 6797 6.1: only ever sent over HTTPS."""
    if not config.hsts_max_age:
        return b""
    return b"Strict-Transport-Security: max-age=%d\r\n" % config.hsts_max_age


def hot_tier(
    config: EdgeConfig, disk: DiskTier, monotonic: Callable[[], float], workers: int
) -> HotTier:
    """The hot tier of one process: the node's budget shared equally by its workers (each
    promotes from the node's files, so the node holds at most hot_bytes however many)."""
    hot = HotTier(
        config.hot_bytes // workers,
        min_hits=config.hot_min_hits,
        cool_s=config.hot_cool_s,
        live_segments=config.hot_live_segments,
        clock=monotonic,
        current=disk.get,
    )
    disk.on_drop = hot.dropped
    hot.start_sweeping()
    return hot


def _viewers(
    config: EdgeConfig,
    cache: EdgeCache,
    clock: Callable[[], float],
    keep_query: frozenset[str],
    endpoints: frozenset[str],
) -> Viewers | None:
    if not config.viewers:
        return None
    audience = Audience(config.viewer_sessions_max, config.viewer_window_targets)
    return Viewers(audience, clock, cache=cache, keep_query=keep_query, endpoints=endpoints)


def _lookup(
    viewers: Viewers | None, node: NodeLink | None
) -> Callable[[str, str], list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]] | None:
    """The support lookup: this process's sessions, or (a node) every worker's."""
    if viewers is None:
        return None
    return viewers.lookup if node is None else node.viewers


def _metrics_answer(registry: CollectorRegistry) -> Answer:
    head = f"Content-Type: {CONTENT_TYPE_LATEST}\r\nCache-Control: no-store\r\n"
    return Answer(200, head.encode(), generate_latest(registry))


def _gauges(cache: EdgeCache, server: HttpServer) -> dict[str, float]:
    sent = server.stats
    return {
        "ram_bytes": cache.memory.bytes_used,
        "ram_objects": len(cache.memory),
        "disk_bytes": cache.disk.bytes_used,
        "disk_objects": len(cache.disk),
        "disk_evictions": cache.disk.evictions,
        "fills_in_flight": len(cache.fills),
        "fetching": cache.fetcher.fetching,
        "zero_copy_bytes": sent.zero_copy_bytes,
        "tls_connections": sent.tls_connections,
        "tls_resumed": sent.tls_resumed,
        "copied_bytes": sent.copied_bytes,
        "connections_open": len(server.connections),
        "connections_refused": sent.refused_connections,
        "upstream_requests": cache.fetcher.upstream.requests,
        "upstream_attempt_errors": cache.fetcher.upstream.errors,
        "disk_meta_errors": cache.disk.errors,
        **_hot_gauges(cache.hot),
    }


def _hot_gauges(hot: HotTier | None) -> dict[str, float]:
    if hot is None:
        return {}
    counts = hot.counters
    return {
        "hot_bytes": hot.bytes_used,
        "hot_objects": len(hot),
        "hot_hits": counts.hits,
        "hot_promotions": counts.promotions,
        "hot_demotions": counts.demotions,
        "hot_evictions": counts.evictions,
        "hot_errors": counts.errors,
        "hot_refused": counts.refused,
    }


def _rates(config: EdgeConfig, monotonic: Callable[[], float]) -> Callable[[str], float] | None:
    if not config.rate_per_client:
        return None
    return ClientRates(config.rate_per_client, rate_burst(config), monotonic).take
