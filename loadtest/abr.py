"""Adaptive bitrate in the manner of hls.js: two EWMA bandwidth estimates and a switch rule.

Each finished segment download is one sample weighted by its duration in seconds. The fast
average (half-life 3 s) reacts to drops, the slow one (9 s) resists spikes, and the estimate is
the lower of the two, so the player is quick to step down and slow to step up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FAST_HALF_LIFE_S = 3.0
SLOW_HALF_LIFE_S = 9.0
DEFAULT_ESTIMATE_BPS = 500_000.0
MIN_SAMPLE_S = 0.05  # a loopback download can take ~0 s; hls.js clamps to 50 ms likewise
MIN_WEIGHT = 0.001
BANDWIDTH_FACTOR = 0.95  # headroom when staying or stepping down
BANDWIDTH_UP_FACTOR = 0.7  # stricter headroom to step up


class Ewma:
    """Exponentially weighted moving average whose weights are durations."""

    def __init__(self, half_life_s: float) -> None:
        self.alpha = math.exp(math.log(0.5) / half_life_s)
        self.estimate = 0.0
        self.total_weight = 0.0

    def sample(self, weight: float, value: float) -> None:
        adjusted = self.alpha**weight
        self.estimate = value * (1 - adjusted) + adjusted * self.estimate
        self.total_weight += weight

    def value(self) -> float:
        # Undo the bias towards the initial zero while few samples are in.
        zero_factor = 1 - self.alpha**self.total_weight
        return self.estimate / zero_factor if zero_factor else 0.0


class BandwidthEstimator:
    def __init__(self, default_bps: float = DEFAULT_ESTIMATE_BPS) -> None:
        self.default_bps = default_bps
        self.fast = Ewma(FAST_HALF_LIFE_S)
        self.slow = Ewma(SLOW_HALF_LIFE_S)

    def sample(self, seconds: float, size_bytes: int) -> None:
        seconds = max(seconds, MIN_SAMPLE_S)
        bits_per_second = 8 * size_bytes / seconds
        self.fast.sample(seconds, bits_per_second)
        self.slow.sample(seconds, bits_per_second)

    def estimate(self) -> float:
        if self.fast.total_weight < MIN_WEIGHT:
            return self.default_bps
        return min(self.fast.value(), self.slow.value())

    def __repr__(self) -> str:
        return f"BandwidthEstimator(estimate={self.estimate():.0f} bps)"


def choose_level(bitrates: Sequence[int], current: int, estimate_bps: float) -> int:
    """The highest level whose bitrate fits the estimate with headroom; the lowest if none does.

    `bitrates` is sorted lowest first. Levels above the current one must fit 0.7x the estimate,
    the current one and below 0.95x (hls.js abrBandWidthUpFactor / abrBandWidthFactor).
    """
    for index in range(len(bitrates) - 1, -1, -1):
        factor = BANDWIDTH_FACTOR if index <= current else BANDWIDTH_UP_FACTOR
        if bitrates[index] <= factor * estimate_bps:
            return index
    return 0
