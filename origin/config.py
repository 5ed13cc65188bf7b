"""The origin's one typed config: TOML file, then CLASSCAST_ORIGIN_<KEY> env, then CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from classcast.config import build, env_layer, file_layer, flag_layer, read_toml
from classcast.errors import ConfigError
from classcast.logs import LogLevel

ENV_PREFIX = "CLASSCAST_ORIGIN_"
DEFAULT_CONFIG_FILE = Path("config/origin.toml")


@dataclass(frozen=True)
class OriginConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    content: Path = Path("content")
    schedule: Path = Path("config/schedule.toml")
    live_window: int = 6
    live_master_max_age: int = 10
    vod_playlist_max_age: int = 3600
    segment_max_age: int = 31536000
    not_found_max_age: int = 1
    page_max_age: int = 30
    hls_js: Path = Path("node_modules/hls.js/dist/hls.min.js")
    file_cache_bytes: int = 64 * 1024 * 1024
    rescan_interval: float = 1.0
    faults: bool = False
    fault_seed: int | None = None
    shutdown_timeout: float = 5.0
    log_level: LogLevel = "info"

    def __post_init__(self) -> None:
        validate(self)


# RFC 8216 6.2.2: a live playlist must keep at least three target durations after removing a
# segment, so a window of fewer than four segments is never valid.
MIN_LIVE_WINDOW = 4
# The portal's timetable must refresh at least every minute, caches included.
MAX_PAGE_MAX_AGE = 60


def validate(config: OriginConfig) -> None:
    _require(0 < config.port < 65536, "port", f"must be 1..65535 (got {config.port})")
    _require(bool(config.host), "host", "must not be empty")
    _require(
        config.live_window >= MIN_LIVE_WINDOW,
        "live_window",
        f"must be >= {MIN_LIVE_WINDOW} segments (RFC 8216 6.2.2), got {config.live_window}",
    )
    for key in (
        "live_master_max_age",
        "vod_playlist_max_age",
        "segment_max_age",
        "not_found_max_age",
        "file_cache_bytes",
    ):
        _require(getattr(config, key) >= 0, key, f"must be >= 0 (got {getattr(config, key)})")
    _require(
        0 <= config.page_max_age <= MAX_PAGE_MAX_AGE,
        "page_max_age",
        f"must be 0..{MAX_PAGE_MAX_AGE} seconds (got {config.page_max_age})",
    )
    _require(config.rescan_interval >= 0, "rescan_interval", "must be >= 0")
    _require(config.shutdown_timeout > 0, "shutdown_timeout", "must be > 0")


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ConfigError.for_key(key, problem)


def load_config(
    path: Path | None, env: Mapping[str, str], overrides: Mapping[str, object]
) -> OriginConfig:
    """File values, then environment, then flags (None means 'flag not given')."""
    files = [file_layer(path, read_toml(path))] if path is not None else []
    return build(OriginConfig, *files, env_layer(env, ENV_PREFIX), flag_layer(overrides))


def environment() -> Mapping[str, str]:
    return os.environ
