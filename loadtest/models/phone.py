"""The phone: hls.js-style adaptive bitrate over a bandwidth profile that throttles its reads."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(slots=True)
class StallsTold:
    """A phone's rebuffer events by what CMCD made of them (they sum to its rebuffers)."""

    told: int = 0  # said by `bs` on a segment request that was answered
    merged: int = 0  # a later stall before the next segment request: one `bs` for both
    after_last: int = 0  # began after its last segment request: never said (run ended)
    lost: int = 0  # said on a request that got no answer (or was cut at the run's end)

    @property
    def rebuffers(self) -> int:
        return self.told + self.merged + self.after_last + self.lost


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
        self.told = StallsTold()
        self._stalls_said = 0  # rebuffer events covered by a `bs` sent so far
        self._bs_in_flight = False  # the segment request in flight carries `bs`

    def read_rate(self, now: float) -> float:
        return self.profile.rate_at(now - self.opened_at)

    def cmcd(self, fetch: Fetch, now: float) -> str:
        """What hls.js would add to this request (CTA-5004 query form)."""
        buffer = self.buffer
        level = buffer.level(now)
        kind = fetch.kind
        # hls.js keeps one "starved" flag, raised by the video element's `waiting` after the
        # first `playing` (a stall at start-up is no starvation), and sends it as `bs` on the
        # next video or init segment request only (cmcd-controller.ts, `apply`): playlist
        # requests never carry it, and two stalls between two segment requests make one `bs`
        starved = kind == "segment" and buffer.rebuffer_count > self._stalls_said
        if starved:
            self.told.merged += buffer.rebuffer_count - self._stalls_said - 1
            self._stalls_said = buffer.rebuffer_count
            self._bs_in_flight = True
        view = self.views.get(self.level)
        live = view is not None and not view.playlist.is_ended
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

    def on_response(self, fetch: Fetch, response: Response, now: float) -> None:
        if fetch.kind == "segment" and self._bs_in_flight:
            self._bs_in_flight = False
            if response.status:
                self.told.told += 1
            else:  # no answer (timed out, refused): the edge may never have counted it
                self.told.lost += 1
        super().on_response(fetch, response, now)

    def stalls_told(self, now: float) -> StallsTold:
        """Where each of this phone's rebuffer events went, as of `now`."""
        self.buffer.advance(now)
        told = self.told
        cut = 1 if self._bs_in_flight else 0  # its request was still in flight at the end
        return StallsTold(
            told.told,
            told.merged,
            self.buffer.rebuffer_count - self._stalls_said,
            told.lost + cut,
        )

    def _next_object(self, fetch: Fetch) -> str:
        view = self.views.get(fetch.level)
        if view is None:
            return ""
        following = view.playlist.segment(fetch.sequence + 1)
        if following is None:
            return ""
        here, there = fetch.url.rsplit("/", 1)[0], following.url.rsplit("/", 1)[0]
        return basename(following.url) if here == there else ""
