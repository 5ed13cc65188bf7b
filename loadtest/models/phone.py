"""The phone: hls.js-style adaptive bitrate over a bandwidth profile that throttles its reads."""

from __future__ import annotations

from posixpath import basename

from loadtest.abr import BandwidthEstimator, choose_level
from loadtest.bandwidth import BandwidthProfile
from loadtest.cmcd import PlayerState, content_of, query
from loadtest.models.actions import Fetch, Response
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
        sid: str = "",
    ) -> None:
        self.abr = AdaptiveBitrate()
        super().__init__("phone", master_url, opened_at, self.abr, settings)
        self.profile = profile
        self.sid = sid
        self.cid = content_of(master_url)
        self._stalls_said = 0

    def read_rate(self, now: float) -> float:
        return self.profile.rate_at(now - self.opened_at)

    def cmcd(self, fetch: Fetch, now: float) -> str:
        """What hls.js would add to this request (CTA-5004 query form)."""
        buffer = self.buffer
        level = buffer.level(now)
        starved = buffer.rebuffer_count > self._stalls_said
        self._stalls_said = buffer.rebuffer_count
        view = self.views.get(self.level)
        live = view is not None and not view.playlist.is_ended
        kind = fetch.kind
        state = PlayerState(
            self.sid,
            self.cid,
            live,
            kind,
            bitrate_kbps=self.bitrate // 1000,
            top_kbps=max((v.bandwidth for v in self.variants), default=0) // 1000,
            duration_ms=round(fetch.duration * 1000),
            buffer_ms=round(level * 1000) if self.variants else -1,
            throughput_kbps=round(self.abr.estimator.estimate() / 1000) if self.variants else 0,
            starting=buffer.startup_time is None,
            starved=starved,
            nor=self._next_object(fetch) if kind == "segment" else "",
        )
        return query(state)

    def _next_object(self, fetch: Fetch) -> str:
        view = self.views.get(fetch.level)
        if view is None:
            return ""
        following = view.playlist.segment(fetch.sequence + 1)
        if following is None:
            return ""
        here, there = fetch.url.rsplit("/", 1)[0], following.url.rsplit("/", 1)[0]
        return basename(following.url) if here == there else ""
