"""The playback session shared by every viewer model: master, media playlists, segments, buffer.

Two lanes run side by side, as in a real player: the playlist lane loads the master playlist
once and then the current rendition's media playlist (reloading it while live); the segment lane
walks the media sequence into the playback buffer. A `RenditionPolicy` (fixed for a set-top box,
adaptive for a phone) picks the rendition; everything else is the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from loadtest.buffer import PlaybackBuffer
from loadtest.errors import PlaylistError
from loadtest.models.actions import Action, Fetch, Lane, Response, Stop, Wait
from loadtest.models.report import ViewerReport
from loadtest.playlist import MediaPlaylist, Variant, parse_master, parse_media
from loadtest.reload import next_reload_at, start_sequence


@dataclass(frozen=True, slots=True)
class SessionSettings:
    startup_buffer_s: float = 1.0
    resume_buffer_s: float = 1.0
    max_buffer_s: float = 30.0  # hls.js maxBufferLength: stop fetching ahead of this
    start_timeout_s: float = 10.0
    retry_delay_s: float = 0.5
    segment_attempts: int = 3
    stale_after_target_durations: float = 1.5


class RenditionPolicy(Protocol):
    def initial_level(self, variants: tuple[Variant, ...]) -> int: ...

    def after_segment(
        self, variants: tuple[Variant, ...], current: int, response: Response, buffer_s: float
    ) -> int: ...


@dataclass(slots=True)
class PlaylistView:
    """The latest copy of one rendition's media playlist and its reload schedule."""

    text: str
    playlist: MediaPlaylist
    changed_at: float
    reload_at: float


@dataclass(slots=True)
class SegmentTally:
    ratio_sum: float = 0.0
    ratio_max: float = 0.0
    count: int = 0
    lag_sum: float = 0.0
    lag_count: int = 0
    attempts: int = 0
    retry_at: float = 0.0
    bitrate_names: dict[int, str] = field(default_factory=dict)


class ViewerSession:
    def __init__(
        self,
        cohort: str,
        master_url: str,
        opened_at: float,
        policy: RenditionPolicy,
        settings: SessionSettings,
    ) -> None:
        self.cohort = cohort
        self.master_url = master_url
        self.opened_at = opened_at
        self.policy = policy
        self.settings = settings
        self.buffer = PlaybackBuffer(opened_at, settings.startup_buffer_s, settings.resume_buffer_s)
        self.variants: tuple[Variant, ...] = ()
        self.level = -1
        self.views: dict[int, PlaylistView] = {}
        self.next_sequence: int | None = None
        self.report = ViewerReport(cohort)
        self.tally = SegmentTally()
        self.master_retry_at = opened_at
        self.done = False
        self.source = ""  # the local address its connections come from ("": the default)

    # -- what to do next -------------------------------------------------------------------

    def next_action(self, lane: Lane, now: float) -> Action:
        if self.done or self._start_timed_out(now):
            return Stop()
        if lane == "playlist":
            return self._next_playlist_action(now)
        return self._next_segment_action(now)

    def _next_playlist_action(self, now: float) -> Action:
        if not self.variants:
            if now < self.master_retry_at:
                return Wait(self.master_retry_at)
            return Fetch("master", self.master_url)
        view = self.views.get(self.level)
        url = self.variants[self.level].url
        if view is None:
            return Fetch("playlist", url, level=self.level)
        if view.playlist.is_ended:
            return Wait(None)  # VOD: nothing to reload until the rendition changes
        if now < view.reload_at:
            return Wait(view.reload_at)
        return Fetch("playlist", url, level=self.level)

    def _next_segment_action(self, now: float) -> Action:
        view = self.views.get(self.level)
        if view is None:
            return Wait(None)
        playlist = view.playlist
        if self.next_sequence is None:
            self.next_sequence = start_sequence(playlist)
        if now < self.tally.retry_at:
            return Wait(self.tally.retry_at)
        ahead = self.buffer.level(now)
        if ahead >= self.settings.max_buffer_s:
            return Wait(now + ahead - self.settings.max_buffer_s + 1e-3)
        if self.next_sequence < playlist.first_sequence:
            # Fell out of the live window: jump back in where a fresh start would.
            self.report.resyncs += 1
            self.next_sequence = start_sequence(playlist)
        segment = playlist.segment(self.next_sequence)
        if segment is not None:
            return Fetch("segment", segment.url, self.level, segment.sequence, segment.duration)
        if playlist.is_ended:
            self.buffer.complete(now)
            self.done = True
            return Stop()
        return Wait(None)  # the next segment is not published yet

    def _start_timed_out(self, now: float) -> bool:
        if self.buffer.startup_time is not None or self.report.start_failed:
            return self.report.start_failed
        if now - self.opened_at >= self.settings.start_timeout_s:
            self.report.start_failed = True
            self.done = True
        return self.report.start_failed

    # -- what came back ----------------------------------------------------------------------

    def on_response(self, fetch: Fetch, response: Response, now: float) -> None:
        if response.status == 404:
            self.report.not_found += 1
        elif not response.is_ok:
            self.report.errors += 1
        if fetch.kind == "master":
            self._on_master(response, now)
        elif fetch.kind == "playlist":
            self._on_playlist(fetch, response, now)
        else:
            self._on_segment(fetch, response, now)

    def _on_master(self, response: Response, now: float) -> None:
        try:
            if response.is_ok and response.body is not None:
                self.variants = parse_master(response.body, response.url or self.master_url)
                self.level = self.policy.initial_level(self.variants)
                self.tally.bitrate_names = {v.bandwidth: v.name for v in self.variants}
                return
        except PlaylistError:
            self.report.errors += 1
        self.master_retry_at = now + self.settings.retry_delay_s

    def _on_playlist(self, fetch: Fetch, response: Response, now: float) -> None:
        previous = self.views.get(fetch.level)
        parsed = self._parse_media(response, response.url or fetch.url)
        if parsed is None:
            if previous is not None:  # keep playing from the old copy, retry soon
                previous.reload_at = next_reload_at(
                    response.started, previous.playlist.target_duration, changed=False
                )
            return
        text, playlist = parsed
        changed = previous is None or previous.text != text
        if not changed and previous is not None:
            if now - previous.changed_at > self._stale_after(playlist):
                self.report.stale_playlists += 1
            previous.reload_at = next_reload_at(response.started, playlist.target_duration, False)
            self._sample_lag(previous.playlist, now)
            return
        view = PlaylistView(
            text, playlist, now, next_reload_at(response.started, playlist.target_duration, True)
        )
        self.views[fetch.level] = view
        self._sample_lag(playlist, now)

    def _parse_media(self, response: Response, url: str) -> tuple[str, MediaPlaylist] | None:
        if not response.is_ok or response.body is None:
            return None
        try:
            return response.body, parse_media(response.body, url)
        except PlaylistError:
            self.report.errors += 1
            return None

    def _stale_after(self, playlist: MediaPlaylist) -> float:
        return self.settings.stale_after_target_durations * playlist.target_duration

    def _on_segment(self, fetch: Fetch, response: Response, now: float) -> None:
        if not response.is_ok:
            self.tally.attempts += 1
            if self.tally.attempts < self.settings.segment_attempts:
                self.tally.retry_at = now + self.settings.retry_delay_s
                return
            self._advance_sequence()  # give up on this one; the buffer will show the gap
            return
        bitrate = self.variants[fetch.level].bandwidth
        self.buffer.append(now, fetch.duration, bitrate)
        self._tally_download(fetch, response)
        self._advance_sequence()
        chosen = self.policy.after_segment(
            self.variants, self.level, response, self.buffer.level(now)
        )
        if chosen != self.level:
            self._switch(chosen)

    def _tally_download(self, fetch: Fetch, response: Response) -> None:
        if fetch.duration <= 0:
            return
        ratio = (response.finished - response.started) / fetch.duration
        self.tally.ratio_sum += ratio
        self.tally.ratio_max = max(self.tally.ratio_max, ratio)
        self.tally.count += 1

    def _advance_sequence(self) -> None:
        assert self.next_sequence is not None
        self.next_sequence += 1
        self.tally.attempts = 0
        self.tally.retry_at = 0.0

    def _switch(self, level: int) -> None:
        self.report.switches += 1
        self.level = level
        view = self.views.get(level)
        if view is not None and not view.playlist.is_ended:
            del self.views[level]  # a live copy loaded long ago is useless; load it afresh

    def _sample_lag(self, playlist: MediaPlaylist, now: float) -> None:
        """Live-edge lag: media between the playhead and the end of the newest playlist."""
        if playlist.is_ended or self.next_sequence is None or self.buffer.state == "starting":
            return
        unfetched = sum(s.duration for s in playlist.segments if s.sequence >= self.next_sequence)
        self.tally.lag_sum += unfetched + self.buffer.level(now)
        self.tally.lag_count += 1

    # -- observation -------------------------------------------------------------------------

    def cmcd(self, fetch: Fetch, now: float) -> str:
        """The CMCD query argument this viewer's player adds to `fetch` ("" for none: a
        set-top box sends none)."""
        return ""

    def read_rate(self, now: float) -> float | None:
        """Bits per second this viewer's network allows now; None for unthrottled."""
        return None

    @property
    def bitrate(self) -> int:
        return self.variants[self.level].bandwidth if self.variants else 0

    def state(self, now: float) -> str:
        if self.report.start_failed:
            return "failed"
        self.buffer.advance(now)
        return self.buffer.state

    def finish(self, now: float) -> ViewerReport:
        """Close the books at `now` (the viewer leaves, or the run ends)."""
        buffer, report, tally = self.buffer, self.report, self.tally
        report.rebuffer_s = buffer.stalled_for(now)
        report.rebuffer_count = buffer.rebuffer_count
        report.startup_time = buffer.startup_time
        report.played_s = buffer.played_s
        played = buffer.played_by_bitrate
        total = sum(played.values())
        report.bitrate_bps = sum(b * s for b, s in played.items()) / total if total else 0.0
        report.seconds_by_rendition = {
            tally.bitrate_names.get(b, str(b)): s for b, s in played.items()
        }
        if tally.count:
            report.segment_ratio_mean = tally.ratio_sum / tally.count
            report.segment_ratio_max = tally.ratio_max
        if tally.lag_count:
            report.live_lag_mean = tally.lag_sum / tally.lag_count
        return report

    def __repr__(self) -> str:
        return (
            f"ViewerSession(cohort={self.cohort!r}, level={self.level}, "
            f"next_sequence={self.next_sequence}, buffer={self.buffer!r})"
        )
