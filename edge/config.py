"""The edge's typed configuration: config/edge.toml, then CLASSCAST_EDGE_* variables, then flags.

Every value is checked at start-up; a bad one stops the edge with one line naming its key.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.errors import ConfigError

ENV_PREFIX = "CLASSCAST_EDGE_"
SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    host: str = "127.0.0.1"
    port: int = 8081
    upstreams: tuple[str, ...] = ()
    cache_dir: str = ""  # empty: a private temporary directory, removed at exit
    ram_bytes: int = 256 * 1024**2
    ram_object_max_bytes: int = 1024**2
    disk_bytes: int = 10 * 1024**3
    max_open_files: int = 1024
    sendfile: bool = True  # zero-copy disk hits; off: copy through Python (always so for TLS)
    keep_query: tuple[str, ...] = ()
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    playlist_fill_timeout: float = 3.0  # a whole playlist fill, retries included
    retries: int = 2
    prefetch_segments: int = 2
    refresh_ahead_s: float = 0.5
    master_ttl: float = 10.0
    vod_playlist_ttl: float = 21600.0
    segment_ttl: float = 86400.0
    negative_ttl: float = 1.0
    node_id: str = ""  # named in Via; "" = classcast-edge-<hostname>-<port>, unique per node
    cors_origin: str = "*"
    access_log: bool = True
    admin_token: str = ""  # "" = no admin endpoints; set it through CLASSCAST_EDGE_ADMIN_TOKEN
    admin_remote: bool = False  # hear admin requests from non-loopback peers too
    log_level: str = "info"
    shutdown_timeout: float = 5.0
    workers: int = 1  # processes serving one port and one cache; "auto": one per usable CPU
    # issue 9: signed URLs and per-client limits (0 turns a limit or a timeout off)
    sign_keys: tuple[str, ...] = ()  # the first signs, all verify; prefer the environment
    max_conns_per_client: int = 512
    rate_per_client: float = 1000.0  # requests per second per client address
    rate_burst_per_client: float = 2000.0
    header_timeout: float = 10.0  # seconds to receive a whole request head
    idle_timeout: float = 60.0  # seconds a keep-alive connection may wait for its next request


SIZE_KEYS = {"ram_bytes", "ram_object_max_bytes", "disk_bytes"}
MIN_SIGN_KEY_LENGTH = 16
OFF_ABLE_LIMITS = (
    "max_conns_per_client",
    "rate_per_client",
    "rate_burst_per_client",
    "header_timeout",
    "idle_timeout",
)
LOG_LEVELS = {"debug", "info", "warning", "error"}


def parse_size(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
        if not match or match.group(2).upper() not in SIZE_UNITS:
            raise ConfigError(f"{key}: expected a size such as 512MiB or 10GB, got {value!r}")
        size = int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])
    if size <= 0:
        raise ConfigError(f"{key}: must be positive, got {value!r}")
    return size


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
        raise ConfigError(f'workers: a positive whole number or "auto", got {value!r}')
    return workers


def _coerce(key: str, default: object, value: object) -> object:
    if key in SIZE_KEYS:
        return parse_size(key, value)
    if key == "workers":
        return parse_workers(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return str(value).lower() in ("1", "true", "yes", "on")
    elif isinstance(default, int):
        if not isinstance(value, bool):
            try:
                return int(str(value))
            except ValueError:
                pass
    elif isinstance(default, float):
        if not isinstance(value, bool):
            try:
                return float(str(value))
            except ValueError:
                pass
    elif isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            return tuple(str(item).strip() for item in items if str(item).strip())
    elif isinstance(default, str):
        return str(value)
    raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")


def _flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    """TOML sections only group keys: [cache] ram_bytes is the key ram_bytes."""
    flat: dict[str, Any] = {}
    for name, value in table.items():
        flat.update(_flatten(value) if isinstance(value, Mapping) else {name: value})
    return flat


def load_file(path: Path) -> dict[str, Any]:
    try:
        return _flatten(tomllib.loads(path.read_bytes().decode("utf-8")))  # no newline translation
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    }


def build(*layers: Mapping[str, Any]) -> EdgeConfig:
    """Merge layers (later wins) over the defaults, coerce and validate."""
    defaults = EdgeConfig()
    known = {f.name: getattr(defaults, f.name) for f in fields(EdgeConfig)}
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key not in known:
                raise ConfigError(f"{key}: unknown setting")
            values[key] = _coerce(key, known[key], value)
    return validate(replace(defaults, **values))


def validate(config: EdgeConfig) -> EdgeConfig:
    if not config.upstreams:
        raise ConfigError("upstreams: at least one upstream URL is needed (--upstream URL)")
    for url in config.upstreams:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port out of range
        except ValueError:
            raise ConfigError(f"upstreams: {url!r} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
            raise ConfigError(f"upstreams: {url!r} is not an http(s) URL")
    for f in fields(EdgeConfig):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name}: must be a finite number, got {value!r}")
    if not 0 <= config.port < 65536:  # 0: any free port (tests)
        raise ConfigError(f"port: {config.port} is not a TCP port")
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level: one of {sorted(LOG_LEVELS)}, got {config.log_level!r}")
    for key in (
        "connect_timeout",
        "read_timeout",
        "playlist_fill_timeout",
        "shutdown_timeout",
        "negative_ttl",
    ):
        if getattr(config, key) <= 0:
            raise ConfigError(f"{key}: must be positive")
    for key in ("retries", "prefetch_segments", "master_ttl", "segment_ttl", "vod_playlist_ttl"):
        if getattr(config, key) < 0:
            raise ConfigError(f"{key}: must not be negative")
    _validate_security(config)
    if config.max_open_files < 1:
        raise ConfigError("max_open_files: at least 1")
    if not config.node_id:
        config = replace(config, node_id=f"classcast-edge-{socket.gethostname()}-{config.port}")
    if any(c in config.node_id for c in " ,\t"):
        raise ConfigError(f"node_id: no spaces or commas, got {config.node_id!r}")
    if config.ram_object_max_bytes > config.ram_bytes:
        raise ConfigError("ram_object_max_bytes: larger than ram_bytes")
    return config


def _validate_security(config: EdgeConfig) -> None:
    for key in OFF_ABLE_LIMITS:
        if getattr(config, key) < 0:
            raise ConfigError(f"{key}: must not be negative (0 turns it off)")
    if config.rate_per_client and config.rate_burst_per_client < 1:
        raise ConfigError("rate_burst_per_client: at least 1 when rate_per_client is set")
    for number, key in enumerate(config.sign_keys, 1):  # never echo a secret in an error
        if len(key) < MIN_SIGN_KEY_LENGTH:
            raise ConfigError(
                f"sign_keys: key {number} is shorter than {MIN_SIGN_KEY_LENGTH} characters"
            )


def load(
    path: Path | None, flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> EdgeConfig:
    file_layer = load_file(path) if path is not None else {}
    return build(file_layer, from_env(environ), flags)
