"""The edge's typed configuration: config/edge.toml, then CLASSCAST_EDGE_* variables, then flags,
read by the loader every service shares (classcast.config).

Every value is checked at start-up; a bad one stops the edge with one line naming its key.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from classcast.config import (
    SECRET,
    Bytes,
    Layer,
    env_layer,
    file_layer,
    flag_layer,
    flatten,
    parse_size,
    read_toml,
)
from classcast.config import build as build_config
from classcast.errors import ConfigError
from classcast.logs import LogLevel
from edge.http import tls
from edge.http.listen import Listener, parse_listener

ENV_PREFIX = "CLASSCAST_EDGE_"


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup v2 CPU quota (a
    container limited to 2 CPUs on a 64-core host should run 2 workers, not 64)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota != "max" and int(period) > 0:
        cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    return cpus


def parse_workers(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return usable_cpus()
    try:
        workers = int(str(value)) if not isinstance(value, bool) else 0
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f'a positive whole number or "auto", got {value!r}')
    return workers


Workers = Annotated[int, parse_workers]


def parse_size_or_off(value: object) -> int:
    """A byte budget as parse_size takes it, or 0 (also "0" and "off"): turned off."""
    if str(value).strip().lower() in ("0", "off"):
        return 0
    return parse_size(value)


BytesOrOff = Annotated[int, parse_size_or_off]


METHOD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ-")
RATE_BURST_SECONDS = 2.0  # the burst when none is set: this many seconds of the rate


def parse_statuses(value: object) -> tuple[int, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"a list of HTTP statuses, got {value!r}")
    statuses = []
    for item in items:
        try:
            status = int(str(item).strip())
        except ValueError:
            raise ValueError(f"{item!r} is not an HTTP status") from None
        if not 400 <= status <= 599:
            raise ValueError(f"{status} is not an error status (400-599)")
        statuses.append(status)
    return tuple(statuses)


def parse_methods(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"a list of methods, got {value!r}")
    methods = tuple(str(item).strip().upper() for item in items if str(item).strip())
    for method in methods:
        if not set(method) <= METHOD_CHARS:
            raise ValueError(f"{method!r} is not an HTTP method")
    return methods


Statuses = Annotated[tuple[int, ...], parse_statuses]
Methods = Annotated[tuple[str, ...], parse_methods]
Secret = Annotated[str, SECRET]  # SECURITY.md: a config error never repeats its value
SecretList = Annotated[tuple[str, ...], SECRET]


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    host: str = "127.0.0.1"
    port: int = 8081
    upstreams: tuple[str, ...] = ()
    cache_dir: str = ""  # empty: a private temporary directory, removed at exit
    ram_bytes: Bytes = 256 * 1024**2
    ram_object_max_bytes: Bytes = 1024**2
    disk_bytes: Bytes = 10 * 1024**3
    max_open_files: int = 1024
    # issue 21: the hot tier, disk entries' bodies held in RAM (edge/cache/hot.py); per node:
    # each of N workers holds at most hot_bytes / N
    hot_bytes: BytesOrOff = 512 * 1024**2  # 0 turns it off
    hot_min_hits: int = 2  # hits within hot_cool_s that promote an object
    hot_cool_s: float = 30.0  # a copy not hit for this long is demoted to the disk tier
    hot_live_segments: int = 4  # newest segments of a live playlist, promoted on first hit
    sendfile: bool = True  # zero-copy disk hits; off: copy through Python (always so for TLS)
    keep_query: tuple[str, ...] = ()
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    playlist_fill_timeout: float = 3.0  # a whole playlist fill, retries included
    retries: int = 1  # tries again only what never reached a parent, on the next parent
    retry_budget: float = 0.1  # retries: at most this share of the last second's requests
    prefetch_segments: int = 2
    refresh_ahead_s: float = 0.5
    master_ttl: float = 10.0
    vod_playlist_ttl: float = 21600.0
    segment_ttl: float = 86400.0
    negative_ttl: float = 1.0
    hls_error_statuses: Statuses = (404, 410)  # HLS answers cached, for negative_ttl at most
    live_fresh_fraction: float = 0.5  # a live playlist is fresh for this share of its TD...
    live_stale_tds: float = 1.0  # ...served stale while refreshed for this many TDs more...
    live_error_tds: float = 2.0  # ...and never older than this many TDs when the origin fails
    heuristic_fraction: float = 0.1  # RFC 9111 4.2.2, of the time since Last-Modified; 0: off
    heuristic_max: float = 86400.0
    refused_methods: Methods = ()  # answered 405 by the edge; others are passed to upstream
    max_request_body: Bytes = 1024**2  # a request body passed upstream; larger gets 413
    node_id: str = ""  # named in Via; "" = classcast-edge-<hostname>-<port>, unique per node
    cors_origin: str = "*"
    access_log: bool = True
    admin_token: Annotated[str, SECRET] = (
        ""  # "" = no admin endpoints; set it through CLASSCAST_EDGE_ADMIN_TOKEN
    )
    admin_remote: bool = False  # hear admin requests from non-loopback peers too
    log_level: LogLevel = "info"
    shutdown_timeout: float = 5.0
    workers: Workers = 1  # processes serving one port and one cache; "auto": one per usable CPU
    # issue 9: signed URLs and per-client limits (0 turns a limit or a timeout off)
    sign_keys: Annotated[
        tuple[str, ...], SECRET
    ] = ()  # the first signs, all verify; prefer the environment
    max_conns_per_client: int = 512
    rate_per_client: float = 1000.0  # requests per second per client address
    rate_burst_per_client: float = 0.0  # 0: RATE_BURST_SECONDS of rate_per_client
    header_timeout: float = 10.0  # seconds to receive a whole request head
    idle_timeout: float = 60.0  # seconds a keep-alive connection may wait for its next request
    # issue 18: listeners and TLS. `listen`/`listen_tls` ADDRESS:PORT lists are the whole set
    # when given; otherwise host:port is the plain listener. tls_port adds HTTPS on host.
    listen: tuple[str, ...] = ()
    listen_tls: tuple[str, ...] = ()
    tls_port: int | None = None
    tls_cert: tuple[str, ...] = ()  # PEM files (the chain after the leaf) or directories
    tls_key: tuple[str, ...] = ()  # one per certificate file, in the same order
    tls_profile: Literal["intermediate", "modern"] = "intermediate"  # Mozilla's names
    tls_ticket_rotate_s: float = 3600.0  # session-ticket key lifetime; 0: no tickets
    tls_ticket_secret: Secret = ""  # "" = random per node; share it to resume across nodes
    hsts_max_age: int = 0  # Strict-Transport-Security on HTTPS answers, seconds; 0: none
    upstream_ca: str = ""  # CA file for https upstreams; "" = the system store
    # issue 19: viewer sessions, CMCD and the latency histograms (off: none of them)
    viewers: bool = True
    viewer_window_targets: float = 3.0  # a session watches for this many target durations
    viewer_sessions_max: int = 200_000  # per worker; beyond, the oldest session is dropped


MIN_SIGN_KEY_LENGTH = 16
OFF_ABLE_LIMITS = (
    "max_conns_per_client",
    "rate_per_client",
    "rate_burst_per_client",
    "header_timeout",
    "idle_timeout",
)


def load_file(path: Path) -> dict[str, Any]:
    """config/edge.toml's settings; its sections only group the keys."""
    return flatten(read_toml(path))


def build(*layers: Layer | Mapping[str, Any]) -> EdgeConfig:
    """Merge layers (later wins) over the defaults, coerce and validate."""
    return validate(build_config(EdgeConfig, *layers))


def validate(config: EdgeConfig) -> EdgeConfig:
    if not config.upstreams:
        raise ConfigError.for_key(
            "upstreams", "at least one upstream URL is needed (--upstream URL)"
        )
    for url in config.upstreams:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port out of range
        except ValueError:
            raise ConfigError.for_key("upstreams", f"{url!r} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
            raise ConfigError.for_key("upstreams", f"{url!r} is not an http(s) URL")
    if not 0 <= config.port < 65536:  # 0: any free port (tests)
        raise ConfigError.for_key("port", f"{config.port} is not a TCP port")
    if config.tls_port is not None and not 0 <= config.tls_port < 65536:
        raise ConfigError.for_key("tls_port", f"{config.tls_port} is not a TCP port")
    every = listeners(config)
    _validate_tls(config, any(listener.tls for listener in every))
    for key in (
        "connect_timeout",
        "read_timeout",
        "playlist_fill_timeout",
        "shutdown_timeout",
        "negative_ttl",
    ):
        if getattr(config, key) <= 0:
            raise ConfigError.for_key(key, "must be positive")
    for key in (
        "retries",
        "retry_budget",
        "prefetch_segments",
        "master_ttl",
        "segment_ttl",
        "vod_playlist_ttl",
        "heuristic_fraction",
        "heuristic_max",
    ):
        if getattr(config, key) < 0:
            raise ConfigError.for_key(key, "must not be negative")
    if not 0 < config.live_fresh_fraction <= 1:
        raise ConfigError.for_key("live_fresh_fraction", "a share of a target duration, 0 to 1")
    for key in ("live_stale_tds", "live_error_tds"):
        if getattr(config, key) < 0:
            raise ConfigError.for_key(key, "must not be negative")
    if config.max_request_body < 1024:
        raise ConfigError.for_key("max_request_body", "at least 1KiB (admin orders need it)")
    _validate_security(config)
    _validate_hot(config)
    if config.viewer_window_targets <= 0:
        raise ConfigError.for_key("viewer_window_targets", "must be positive")
    if config.viewer_sessions_max < 1:
        raise ConfigError.for_key("viewer_sessions_max", "at least 1")
    if config.max_open_files < 1:
        raise ConfigError.for_key("max_open_files", "at least 1")
    if not config.node_id:
        config = replace(config, node_id=f"classcast-edge-{socket.gethostname()}-{config.port}")
    if any(c in config.node_id for c in " ,\t"):
        raise ConfigError.for_key("node_id", f"no spaces or commas, got {config.node_id!r}")
    if config.ram_object_max_bytes > config.ram_bytes:
        raise ConfigError.for_key("ram_object_max_bytes", "larger than ram_bytes")
    return config


def _validate_hot(config: EdgeConfig) -> None:
    if config.hot_min_hits < 1:
        raise ConfigError.for_key("hot_min_hits", "at least 1")
    if config.hot_cool_s <= 0:
        raise ConfigError.for_key("hot_cool_s", "must be positive")
    if config.hot_live_segments < 0:
        raise ConfigError.for_key("hot_live_segments", "must not be negative")


def listeners(config: EdgeConfig) -> list[Listener]:
    """Every address the edge listens on, plain ones first; raises ConfigError."""
    found: list[Listener] = []
    for key, secure in (("listen", False), ("listen_tls", True)):
        for text in getattr(config, key):
            try:
                found.append(parse_listener(text, secure))
            except ValueError as exc:
                raise ConfigError.for_key(key, str(exc)) from None
    if not found:
        found.append(Listener(config.host, config.port))
    if config.tls_port is not None:
        found.append(Listener(config.host, config.tls_port, tls=True))
    addresses = [listener.address for listener in found if listener.port]
    twice = sorted({address for address in addresses if addresses.count(address) > 1})
    if twice:
        raise ConfigError.for_key("listen", f"{', '.join(twice)} listed twice")
    return found


def _validate_tls(config: EdgeConfig, serves_tls: bool) -> None:
    if config.upstream_ca and not os.access(config.upstream_ca, os.R_OK):
        raise ConfigError.for_key("upstream_ca", f"{config.upstream_ca}: cannot read it")
    for key in ("tls_ticket_rotate_s", "hsts_max_age"):
        if getattr(config, key) < 0:
            raise ConfigError.for_key(key, "must not be negative (0 turns it off)")
    if not serves_tls:
        return
    if not config.tls_cert:
        raise ConfigError.for_key("tls_cert", "an HTTPS listener needs --tls-cert and --tls-key")
    try:
        tls.load_certificates(config.tls_cert, config.tls_key, config.tls_profile)
    except tls.TlsError as exc:
        raise ConfigError.for_key(exc.key, str(exc)) from None


def _validate_security(config: EdgeConfig) -> None:
    for key in OFF_ABLE_LIMITS:
        if getattr(config, key) < 0:
            raise ConfigError.for_key(key, "must not be negative (0 turns it off)")
    if config.rate_per_client and 0 < config.rate_burst_per_client < 1:
        raise ConfigError.for_key("rate_burst_per_client", "at least 1 when rate_per_client is set")
    for number, key in enumerate(config.sign_keys, 1):  # never echo a secret in an error
        if len(key) < MIN_SIGN_KEY_LENGTH:
            raise ConfigError.for_key(
                "sign_keys", f"key {number} is shorter than {MIN_SIGN_KEY_LENGTH} characters"
            )


def rate_burst(config: EdgeConfig) -> float:
    """The per-client burst: as set, else RATE_BURST_SECONDS of the rate (50/s: 100 at once)."""
    return config.rate_burst_per_client or max(1.0, config.rate_per_client * RATE_BURST_SECONDS)


def load(
    path: Path | None, flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> EdgeConfig:
    files = [file_layer(path, load_file(path))] if path is not None else []
    return build(*files, env_layer(environ, ENV_PREFIX), flag_layer(flags))
