"""Fault injection for tests and drills: latency, error answers, truncated and slow bodies."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from origin.errors import BadRequest

# Never fault the control endpoints, or a test could lock itself out.
CONTROL_PATHS = ("/_faults", "/_stats", "/healthz", "/readyz", "/metrics")
SLOW_CHUNKS_PER_SECOND = 20


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    truncate_rate: float = 0.0
    bytes_per_second: int = 0
    path_prefix: str = ""


@dataclass(frozen=True)
class BodyPlan:
    """How to send one body: cut after `truncate_at` bytes, and/or throttle to a rate."""

    truncate_at: int | None = None
    bytes_per_second: int = 0

    @property
    def chunk_size(self) -> int:
        return max(1, self.bytes_per_second // SLOW_CHUNKS_PER_SECOND)


NO_FAULT = BodyPlan()


def parse_settings(body: Any) -> FaultSettings:
    if not isinstance(body, dict):
        raise BadRequest("fault settings must be a JSON object")
    fields = {field.name: field for field in dataclasses.fields(FaultSettings)}
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"unknown fault setting {unknown[0]!r}")
    typed: dict[str, Any] = {key: _typed(key, value) for key, value in body.items()}
    settings = FaultSettings(**typed)
    _check(settings)
    return settings


def _typed(key: str, value: object) -> object:
    default = getattr(FaultSettings(), key)
    accepted: tuple[type, ...] = (int, float) if isinstance(default, float) else (type(default),)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise BadRequest(f"fault setting {key!r} must be a {type(default).__name__}")
    return value


def _check(settings: FaultSettings) -> None:
    if settings.latency_ms < 0 or settings.bytes_per_second < 0:
        raise BadRequest("latency_ms and bytes_per_second must be >= 0")
    if not (0 <= settings.error_rate <= 1 and 0 <= settings.truncate_rate <= 1):
        raise BadRequest("error_rate and truncate_rate must be between 0 and 1")
    if not 400 <= settings.error_status <= 599:
        raise BadRequest("error_status must be a 4xx or 5xx status")


class FaultInjector:
    """Current settings plus a seedable random source; a no-op with the default settings."""

    def __init__(self, rng: random.Random, settings: FaultSettings | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._rng = rng

    def __repr__(self) -> str:
        return f"FaultInjector({self.settings!r})"

    def applies_to(self, path: str) -> bool:
        return path.startswith(self.settings.path_prefix) and not path.startswith(CONTROL_PATHS)

    def latency_for(self, path: str) -> float:
        return self.settings.latency_ms / 1000 if self.applies_to(path) else 0.0

    def error_for(self, path: str) -> int | None:
        rate = self.settings.error_rate
        if rate > 0 and self.applies_to(path) and self._rng.random() < rate:
            return self.settings.error_status
        return None

    def body_plan(self, path: str, length: int) -> BodyPlan:
        if not self.applies_to(path):
            return NO_FAULT
        rate = self.settings.truncate_rate
        truncate = rate > 0 and length > 1 and self._rng.random() < rate
        return BodyPlan(length // 2 if truncate else None, self.settings.bytes_per_second)
