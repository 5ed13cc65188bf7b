"""The run's one typed config: TOML defaults, then environment, then command-line flags,
read by the loader every service shares (classcast.config).

Every value is validated here; a bad one raises ConfigError naming the key, and the CLI turns
that into one line and exit status 2.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from classcast.config import Layer, build, coerce, env_layer, file_layer, flag_layer, read_toml
from loadtest.bandwidth import make_profile
from loadtest.errors import ConfigError
from loadtest.models.session import SessionSettings
from loadtest.selfcheck import Limits

COHORTS = ("stb", "phone", "ll")  # ll: the LL-HLS viewer (loadtest/models/llhls.py)
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "loadtest.toml"
ENV_PREFIX = "CLASSCAST_LOADTEST_"

Mix = tuple[tuple[str, float], ...]


def parse_mix(text: str) -> Mix:
    """`stb=0.8,phone=0.2` -> (("stb", 0.8), ("phone", 0.2)); shares must sum to 1."""
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        name, _, share = part.partition("=")
        name = name.strip()
        if name not in COHORTS:
            raise ConfigError.for_key(
                "mix", f"unknown cohort {name!r} (known: {', '.join(COHORTS)})"
            )
        try:
            value = float(share)
        except ValueError:
            raise ConfigError.for_key(
                "mix", f"share of {name!r} is not a number: {share!r}"
            ) from None
        if not 0 <= value <= 1:
            raise ConfigError.for_key("mix", f"share of {name!r} must be within 0..1")
        pairs.append((name, value))
    if not math.isclose(sum(share for _, share in pairs), 1.0, abs_tol=1e-6):
        raise ConfigError.for_key("mix", f"shares must add up to 1, got {text!r}")
    return tuple(pairs)


def _mix_setting(value: object) -> Mix:
    if not isinstance(value, str):
        raise ValueError(f"expected cohort shares such as stb=0.8,phone=0.2, got {value!r}")
    return parse_mix(value)


@dataclass(frozen=True)
class RunConfig:
    target: str = ""
    viewers: int = 0
    duration_s: float = 0.0
    ramp_s: float = 0.0
    mix: Annotated[Mix, _mix_setting] = (("stb", 0.8), ("phone", 0.2))
    processes: int = 1
    report_dir: Path | None = None
    ndjson: Path | None = None
    thresholds: tuple[str, ...] = ()
    stb_rendition: str = "highest"
    phone_bandwidth: str = "walk=4000,500,8000"
    ll_bandwidth: str = (
        ""  # LL-HLS viewers' network (same forms as phone_bandwidth); "": unthrottled
    )
    request_timeout_s: float = 10.0
    connections: int = 0  # unused: each viewer holds its own connections (loadtest/transport.py)
    sample_interval_s: float = 1.0
    seed: int = 1
    progress: bool = True
    insecure: bool = False  # https targets: skip certificate checks (a self-signed edge)
    # set-top boxes' own source addresses (homes), e.g. 198.18.64.0/20 ("": on a loopback
    # target each box takes its own 127.x.y.z, else the machine's address)
    homes: str = ""
    session: SessionSettings = field(default_factory=SessionSettings)
    limits: Limits = field(default_factory=Limits)


def load_file(path: Path) -> dict[str, Any]:
    return read_toml(path)


def from_sources(
    file_values: Mapping[str, Any],
    overrides: Mapping[str, Any],
    path: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> RunConfig:
    """Build the config from a parsed TOML document (read from `path`, named in errors), the
    CLASSCAST_LOADTEST_* variables (for the [run] table) and CLI overrides."""

    def table(name: str) -> Layer:
        values = file_values.get(name, {})
        return file_layer(path, values) if path is not None else Layer(values)

    session = build(SessionSettings, table("session"), section="session")
    limits = build(Limits, table("selfcheck"), section="selfcheck")
    run = build(
        RunConfig,
        table("run"),
        env_layer(environ, ENV_PREFIX),
        flag_layer(overrides),
        section="run",
    )
    rules = table("thresholds")
    file_rules = coerce(
        "thresholds.rules", tuple[str, ...], rules.values.get("rules", ()), rules.origin_of("rules")
    )
    thresholds = cast(tuple[str, ...], file_rules) + run.thresholds
    return validate(replace(run, session=session, limits=limits, thresholds=thresholds))


def validate(config: RunConfig) -> RunConfig:
    parts = urlsplit(config.target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError.for_key(
            "target", f"expected the http(s) URL of a master playlist: {config.target!r}"
        )
    checks = [
        (config.viewers > 0, "viewers", "must be at least 1"),
        (config.duration_s > 0, "duration", "must be more than 0 seconds"),
        (config.ramp_s >= 0, "ramp", "must not be negative"),
        (config.processes >= 1, "processes", "must be at least 1"),
        (config.sample_interval_s > 0, "sample_interval_s", "must be more than 0"),
        (config.request_timeout_s > 0, "request_timeout_s", "must be more than 0"),
    ]
    for holds, key, problem in checks:
        if not holds:
            raise ConfigError.for_key(key, problem)
    make_profile(config.phone_bandwidth, seed=0)  # raises ConfigError on a bad spec
    if config.ll_bandwidth:
        make_profile(config.ll_bandwidth, seed=0)
    if config.homes:
        try:
            ipaddress.ip_network(config.homes)
        except ValueError:
            raise ConfigError.for_key(
                "homes", f"expected a network, e.g. 198.18.64.0/20: {config.homes!r}"
            ) from None
    return config
