"""The low-latency viewer (hls.js `lowLatencyMode` style): blocking playlist reloads, parts,
and the hold-back the server asks for; it measures how far behind live it plays.

Playlist lane: one plain load, then blocking reloads for the part after the newest it knows
(rfc8216bis 6.2.5.2), issued as soon as the previous answer lands: the server holds them.
Segment lane: starts at the newest independent part at least PART-HOLD-BACK behind the live
edge, then fetches parts in order. Latency behind live, sampled at every part: the wall clock
minus the program date-time of what the playhead shows (the appended media's end minus what
is buffered).
"""

from __future__ import annotations

from dataclasses import dataclass

from loadtest.bandwidth import BandwidthProfile
from loadtest.errors import PlaylistError
from loadtest.llplaylist import LowLatencyPlaylist, Part, parse_low_latency
from loadtest.models.actions import Action, Fetch, Response, Wait
from loadtest.models.session import SessionSettings, ViewerSession
from loadtest.models.stb import FixedRendition


@dataclass(slots=True)
class Position:
    msn: int
    index: int


def blocking_url(url: str, playlist: LowLatencyPlaylist) -> str:
    """The reload that waits for the part after the newest listed one: the next part of the
    growing segment, or part 0 of the next segment once the last listed one is complete (as
    hls.js asks; a part index past a complete segment is satisfied at once)."""
    joiner = "&" if "?" in url else "?"
    if playlist.growing:
        msn, part = playlist.last_msn, playlist.last_part + 1
    else:
        msn, part = playlist.last_msn + 1, 0
    return f"{url}{joiner}_HLS_msn={msn}&_HLS_part={part}"


def start_position(playlist: LowLatencyPlaylist) -> tuple[Position, float] | None:
    """Where to start: PART-HOLD-BACK before the live edge (rfc8216bis 4.4.3.8). Loading
    starts at the newest independent part at or before that point, and the media before it is
    skipped, as hls.js seeks to its live sync position. Returns the part and seconds to skip."""
    behind = 0.0
    for part in reversed(playlist.parts):
        behind += part.duration
        if part.independent and behind >= playlist.part_hold_back:
            return Position(part.msn, part.index), behind - playlist.part_hold_back
    first = next((part for part in playlist.parts if part.independent), None)
    return None if first is None else (Position(first.msn, first.index), 0.0)


class LowLatencySession(ViewerSession):
    def __init__(
        self,
        master_url: str,
        opened_at: float,
        rendition: str,
        settings: SessionSettings,
        wall_offset: float,
        profile: BandwidthProfile | None = None,
    ) -> None:
        super().__init__("ll", master_url, opened_at, FixedRendition(rendition), settings)
        self.profile = profile  # the viewer's network (--ll-bandwidth); None: unthrottled
        self.wall_offset = wall_offset  # wall clock minus the engine's clock, at start
        self.ll: LowLatencyPlaylist | None = None
        self.ll_reload_at: float | None = None  # None: ask at once (a blocking reload)
        self.position: Position | None = None
        self.skip_s = 0.0  # media before the live sync point, loaded but not played
        self.playing: Part | None = None

    def read_rate(self, now: float) -> float | None:
        return None if self.profile is None else self.profile.rate_at(now - self.opened_at)

    # -- what to do next -------------------------------------------------------------------

    def _next_playlist_action(self, now: float) -> Action:
        if not self.variants:
            return super()._next_playlist_action(now)
        url = self.variants[self.level].url
        playlist = self.ll
        if playlist is None:
            return Fetch("playlist", url, level=self.level)
        if playlist.ended:
            return Wait(None)
        if self.ll_reload_at is not None and now < self.ll_reload_at:
            return Wait(self.ll_reload_at)
        if not playlist.can_block:
            return Fetch("playlist", url, level=self.level)
        return Fetch("playlist", blocking_url(url, playlist), level=self.level)

    def _next_segment_action(self, now: float) -> Action:
        playlist = self.ll
        if playlist is None:
            return Wait(None)
        if now < self.tally.retry_at:
            return Wait(self.tally.retry_at)
        ahead = self.buffer.level(now)
        if ahead >= self.settings.max_buffer_s:
            return Wait(now + ahead - self.settings.max_buffer_s + 1e-3)
        if self.position is None:
            start = start_position(playlist)
            if start is None:
                return Wait(None)
            self.position, self.skip_s = start
        part = playlist.part(self.position.msn, self.position.index)
        if part is None and playlist.has_later(self.position.msn):
            following = playlist.part(self.position.msn + 1, 0)
            if following is not None:  # the segment ended: its next part is the next one's first
                self.position = Position(self.position.msn + 1, 0)
                part = following
            elif self.position.msn < playlist.parts[0].msn:  # fell out of the part window
                self.report.resyncs += 1
                self.position = None
                return self._next_segment_action(now)
        if part is None:
            return Wait(None)  # not published yet: the blocking reload will bring it
        self.playing = part
        return Fetch("segment", part.url, self.level, part.msn, part.duration)

    # -- what came back ----------------------------------------------------------------------

    def _on_playlist(self, fetch: Fetch, response: Response, now: float) -> None:
        if not response.is_ok or response.body is None:
            self.ll_reload_at = now + self.settings.retry_delay_s
            return
        try:
            playlist = parse_low_latency(response.body, self.variants[self.level].url)
        except (PlaylistError, ValueError):
            self.report.errors += 1
            self.ll_reload_at = now + self.settings.retry_delay_s
            return
        self.ll = playlist
        # a server that cannot block is reloaded every part target, as players do
        self.ll_reload_at = None if playlist.can_block else now + playlist.target_duration / 2

    def _on_segment(self, fetch: Fetch, response: Response, now: float) -> None:
        part, position = self.playing, self.position
        if not response.is_ok or part is None or position is None:
            self.tally.attempts += 1
            self.tally.retry_at = now + self.settings.retry_delay_s
            return
        skipped = min(self.skip_s, part.duration)
        self.skip_s -= skipped
        if part.duration > skipped:
            bitrate = self.variants[fetch.level].bandwidth
            self.buffer.append(now, part.duration - skipped, bitrate)
        self._tally_download(fetch, response)
        self.position = Position(position.msn, position.index + 1)
        if part.pdt is not None and self.buffer.state != "starting" and not self.skip_s:
            shown = part.pdt + part.duration - self.buffer.level(now)
            self.report.latency_samples.append(now + self.wall_offset - shown)
