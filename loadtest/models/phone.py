"""The phone: hls.js-style adaptive bitrate over a bandwidth profile that throttles its reads."""

from __future__ import annotations

from loadtest.abr import BandwidthEstimator, choose_level
from loadtest.bandwidth import BandwidthProfile
from loadtest.models.actions import Response
from loadtest.models.session import SessionSettings, ViewerSession
from loadtest.playlist import Variant


class AdaptiveBitrate:
    def __init__(self, estimator: BandwidthEstimator | None = None) -> None:
        self.estimator = estimator or BandwidthEstimator()

    def initial_level(self, variants: tuple[Variant, ...]) -> int:
        return choose_level([v.bandwidth for v in variants], 0, self.estimator.estimate())

    def after_segment(
        self, variants: tuple[Variant, ...], current: int, response: Response, buffer_s: float
    ) -> int:
        self.estimator.sample(response.finished - response.started, response.size)
        return choose_level([v.bandwidth for v in variants], current, self.estimator.estimate())


class PhoneSession(ViewerSession):
    """A session whose reads the driver throttles to `profile` (seconds since it opened)."""

    def __init__(
        self,
        master_url: str,
        opened_at: float,
        profile: BandwidthProfile,
        settings: SessionSettings,
    ) -> None:
        super().__init__("phone", master_url, opened_at, AdaptiveBitrate(), settings)
        self.profile = profile

    def read_rate(self, now: float) -> float:
        return self.profile.rate_at(now - self.opened_at)
