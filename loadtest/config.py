"""The run's one typed config: TOML defaults, then environment, then command-line flags.

Every value is validated here; a bad one raises ConfigError naming the key, and the CLI turns
that into one line and exit status 2.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from loadtest.bandwidth import make_profile
from loadtest.errors import ConfigError
from loadtest.models.session import SessionSettings
from loadtest.selfcheck import Limits

COHORTS = ("stb", "phone")
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "loadtest.toml"
ENV_PREFIX = "CLASSCAST_LOADTEST_"

Mix = tuple[tuple[str, float], ...]
T = TypeVar("T")


@dataclass(frozen=True)
class RunConfig:
    target: str = ""
    viewers: int = 0
    duration_s: float = 0.0
    ramp_s: float = 0.0
    mix: Mix = (("stb", 0.8), ("phone", 0.2))
    processes: int = 1
    report_dir: Path | None = None
    ndjson: Path | None = None
    thresholds: tuple[str, ...] = ()
    stb_rendition: str = "highest"
    phone_bandwidth: str = "walk=4000,500,8000"
    request_timeout_s: float = 10.0
    connections: int = 0  # unused: each viewer holds its own connections (loadtest/transport.py)
    sample_interval_s: float = 1.0
    seed: int = 1
    progress: bool = True
    session: SessionSettings = field(default_factory=SessionSettings)
    limits: Limits = field(default_factory=Limits)


def parse_mix(text: str) -> Mix:
    """`stb=0.8,phone=0.2` -> (("stb", 0.8), ("phone", 0.2)); shares must sum to 1."""
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        name, _, share = part.partition("=")
        name = name.strip()
        if name not in COHORTS:
            raise ConfigError(f"mix: unknown cohort {name!r} (known: {', '.join(COHORTS)})")
        try:
            value = float(share)
        except ValueError:
            raise ConfigError(f"mix: share of {name!r} is not a number: {share!r}") from None
        if not 0 <= value <= 1:
            raise ConfigError(f"mix: share of {name!r} must be within 0..1")
        pairs.append((name, value))
    if not math.isclose(sum(share for _, share in pairs), 1.0, abs_tol=1e-6):
        raise ConfigError(f"mix: shares must add up to 1, got {text!r}")
    return tuple(pairs)


def load_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None


def from_sources(file_values: dict[str, Any], overrides: dict[str, Any]) -> RunConfig:
    """Build the config from a parsed TOML document, the environment and CLI overrides."""
    run = dict(file_values.get("run", {}))
    for item in fields(RunConfig):
        env = os.environ.get(ENV_PREFIX + item.name.upper())
        if env is not None:
            run[item.name] = env
    run.update({key: value for key, value in overrides.items() if value is not None})
    session = _build(SessionSettings, file_values.get("session", {}), "session")
    limits = _build(Limits, file_values.get("selfcheck", {}), "selfcheck")
    thresholds = tuple(file_values.get("thresholds", {}).get("rules", ())) + tuple(
        run.pop("thresholds", ()) or ()
    )
    config = _build(RunConfig, run, "run")
    return validate(replace(config, session=session, limits=limits, thresholds=thresholds))


def _build(kind: type[T], values: dict[str, Any], table: str) -> T:
    known = {item.name: item for item in fields(kind)}  # type: ignore[arg-type]
    converted: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{table}.{key}: unknown setting")
        converted[key] = _convert(f"{table}.{key}", known[key].default, value)
    return kind(**converted)


def _convert(key: str, default: Any, value: Any) -> Any:
    try:
        if key == "run.mix":
            return parse_mix(value) if isinstance(value, str) else value
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if key in ("run.report_dir", "run.ndjson"):
            return Path(value)
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: bad value {value!r}") from None


def validate(config: RunConfig) -> RunConfig:
    parts = urlsplit(config.target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"target: expected the http(s) URL of a master playlist: {config.target!r}"
        )
    checks = [
        (config.viewers > 0, "viewers: must be at least 1"),
        (config.duration_s > 0, "duration: must be more than 0 seconds"),
        (config.ramp_s >= 0, "ramp: must not be negative"),
        (config.processes >= 1, "processes: must be at least 1"),
        (config.sample_interval_s > 0, "sample_interval_s: must be more than 0"),
        (config.request_timeout_s > 0, "request_timeout_s: must be more than 0"),
    ]
    for holds, message in checks:
        if not holds:
            raise ConfigError(message)
    make_profile(config.phone_bandwidth, seed=0)  # raises ConfigError on a bad spec
    return config
