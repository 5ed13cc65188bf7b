"""Per-viewer bandwidth profiles (fixed, random walk, recorded trace) and the read throttle.

A profile answers "how many bits per second may this viewer read at time t" (t in seconds since
the viewer started). Spec strings, in kbit/s: `fixed=3000`, `walk=3000,500,8000` (start, low,
high), `trace=FILE` where FILE has `seconds kbit/s` lines and loops when it runs out.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loadtest.errors import ConfigError

WALK_STEP_S = 1.0
WALK_STEP_FRACTION = 0.15  # each second the rate moves by up to +-15%


class BandwidthProfile(Protocol):
    def rate_at(self, t: float) -> float: ...


@dataclass(frozen=True, slots=True)
class FixedProfile:
    bps: float

    def rate_at(self, t: float) -> float:
        return self.bps


class RandomWalkProfile:
    """A multiplicative random walk between `low` and `high`, one step per second, seeded."""

    def __init__(self, start_bps: float, low_bps: float, high_bps: float, seed: int) -> None:
        self.low, self.high = low_bps, high_bps
        self._rates = [min(max(start_bps, low_bps), high_bps)]
        self._random = random.Random(seed)

    def rate_at(self, t: float) -> float:
        step = max(0, int(t / WALK_STEP_S))
        while len(self._rates) <= step:
            factor = 1 + self._random.uniform(-WALK_STEP_FRACTION, WALK_STEP_FRACTION)
            self._rates.append(min(max(self._rates[-1] * factor, self.low), self.high))
        return self._rates[step]


class TraceProfile:
    def __init__(self, points: list[tuple[float, float]]) -> None:
        if not points:
            raise ConfigError("bandwidth trace is empty")
        self._times = [time for time, _ in points]
        self._rates = [rate for _, rate in points]
        self._period = self._times[-1] + (
            self._times[-1] - self._times[-2] if len(points) > 1 else 1
        )

    def rate_at(self, t: float) -> float:
        index = bisect_right(self._times, t % self._period) - 1
        return self._rates[max(index, 0)]


def read_trace(path: Path) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split("#")[0].replace(",", " ").split()
        if not fields:
            continue
        try:
            points.append((float(fields[0]), float(fields[1]) * 1000))
        except (ValueError, IndexError):
            raise ConfigError(f"{path}:{number}: expected 'seconds kbit/s'") from None
    return sorted(points)


def make_profile(spec: str, seed: int) -> BandwidthProfile:
    kind, _, argument = spec.partition("=")
    try:
        if kind == "fixed":
            return FixedProfile(float(argument) * 1000)
        if kind == "walk":
            start, low, high = (float(value) * 1000 for value in argument.split(","))
            return RandomWalkProfile(start, low, high, seed)
    except ValueError:
        raise ConfigError(f"bad bandwidth profile {spec!r}") from None
    if kind == "trace":
        return TraceProfile(read_trace(Path(argument)))
    raise ConfigError(
        f"bad bandwidth profile {spec!r}: use fixed=KBPS, walk=START,LOW,HIGH or trace=FILE"
    )


def throttle_delay(read_bytes: int, elapsed_s: float, rate_bps: float) -> float:
    """How long to pause so `read_bytes` over the elapsed time stays within `rate_bps`."""
    if rate_bps <= 0:
        return 0.0
    return max(0.0, read_bytes * 8 / rate_bps - elapsed_s)
