"""The origin's one typed config: TOML file, then CLASSCAST_ORIGIN_<KEY> env, then CLI flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from origin.errors import ConfigError

ENV_PREFIX = "CLASSCAST_ORIGIN_"
DEFAULT_CONFIG_FILE = Path("config/origin.toml")
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
LogLevel = Literal["debug", "info", "warning", "error"]


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
    _require(
        config.log_level in get_args(LogLevel),
        "log_level",
        f"must be one of {', '.join(get_args(LogLevel))} (got {config.log_level!r})",
    )


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ConfigError.for_key(key, problem)


def load_config(
    path: Path | None, env: Mapping[str, str], overrides: Mapping[str, object]
) -> OriginConfig:
    """File values, then environment, then flags (None means 'flag not given')."""
    values: dict[str, object] = {}
    if path is not None:
        values.update(_read_toml(path))
    values.update({key.lower(): value for key, value in _env_values(env).items()})
    values.update({key: value for key, value in overrides.items() if value is not None})
    return build_config(values)


def build_config(values: Mapping[str, object]) -> OriginConfig:
    fields = {field.name: field for field in dataclasses.fields(OriginConfig)}
    typed: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in fields:
            raise ConfigError.for_key(key, "unknown key")
        typed[key] = _coerce(key, raw, dataclasses.asdict(OriginConfig())[key])
    return OriginConfig(**typed)


def _coerce(key: str, raw: object, default: object) -> object:
    if raw is None or (isinstance(raw, str) and raw.lower() == "none" and key == "fault_seed"):
        return None
    kind = type(default) if default is not None else int
    try:
        if kind is bool:
            return _to_bool(raw)
        if kind is int and not isinstance(raw, bool):
            return int(str(raw), 10) if isinstance(raw, str) else _exact_int(raw)
        if kind is float and not isinstance(raw, bool):
            return float(raw)  # type: ignore[arg-type]
        if issubclass(kind, Path) and isinstance(raw, str | Path):
            return Path(raw)
        if kind is str and isinstance(raw, str):
            return raw
    except (TypeError, ValueError):
        pass
    raise ConfigError.for_key(key, f"expected {_kind_name(kind)}, got {raw!r}")


def _exact_int(raw: object) -> int:
    if isinstance(raw, int):
        return raw
    raise TypeError(raw)


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in TRUE | FALSE:
        return raw.lower() in TRUE
    raise ValueError(raw)


def _kind_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number"}.get(kind, "a string")


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError.for_key("config", f"{path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError.for_key("config", f"{path}: {error}") from None


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    return {
        key.removeprefix(ENV_PREFIX): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX)
    }


def environment() -> Mapping[str, str]:
    return os.environ
