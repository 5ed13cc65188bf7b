"""A simulated playback buffer: what a player would show, given when segments arrived.

Media drains at one second per second while playing. Playback starts once `startup_s` seconds
are buffered, stalls when the buffer runs dry before the stream ends, and resumes once
`resume_s` seconds are buffered again. Each buffered chunk remembers its bitrate, so the played
time per rendition (and the time-weighted bitrate) falls out of the draining.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

BufferState = Literal["starting", "playing", "stalled", "ended"]


class PlaybackBuffer:
    def __init__(self, opened_at: float, startup_s: float, resume_s: float) -> None:
        self.opened_at = opened_at
        self.startup_s = startup_s
        self.resume_s = resume_s
        self.state: BufferState = "starting"
        self.startup_time: float | None = None
        self.rebuffer_count = 0
        self.rebuffer_s = 0.0
        self.played_s = 0.0
        self.played_by_bitrate: dict[int, float] = {}
        self._chunks: deque[list[float]] = deque()  # [seconds left, bitrate]
        self._level = 0.0
        self._updated_at = opened_at
        self._stalled_since = 0.0
        self._stream_complete = False

    def level(self, now: float) -> float:
        self.advance(now)
        return self._level

    def append(self, now: float, seconds: float, bitrate: int) -> None:
        # a chunk told late (its arrival stamped before the buffer was last looked at) arrives
        # now: the buffer's clock never goes back, so a stall never ends before it began
        now = max(now, self._updated_at)
        self.advance(now)
        self._chunks.append([seconds, float(bitrate)])
        self._level += seconds
        if self.state == "starting" and self._level >= self.startup_s:
            self.state = "playing"
            self.startup_time = now - self.opened_at
        elif self.state == "stalled" and self._level >= self.resume_s:
            self.state = "playing"
            self.rebuffer_s += now - self._stalled_since

    def complete(self, now: float) -> None:
        """No more media will come (the VOD playlist ended): draining what is left is no stall."""
        now = max(now, self._updated_at)
        self.advance(now)
        self._stream_complete = True
        if self.state == "starting" and self._level > 0:
            self.state = "playing"
            self.startup_time = now - self.opened_at
        elif self.state == "stalled":
            self.rebuffer_s += now - self._stalled_since
            self.state = "playing" if self._level > 0 else "ended"
        if self._level <= 0 and self.state == "playing":
            self.state = "ended"

    def advance(self, now: float) -> None:
        elapsed = now - self._updated_at
        if elapsed <= 0:
            return
        self._updated_at = now
        if self.state != "playing":
            return
        drained = self._drain(elapsed)
        if self._level <= 0 and drained < elapsed:
            self._run_dry(now - (elapsed - drained))

    def stalled_for(self, now: float) -> float:
        """Rebuffer time including a stall still in progress."""
        self.advance(now)
        ongoing = now - self._stalled_since if self.state == "stalled" else 0.0
        return self.rebuffer_s + ongoing

    def _drain(self, elapsed: float) -> float:
        drained = 0.0
        while self._chunks and drained < elapsed:
            chunk = self._chunks[0]
            take = min(chunk[0], elapsed - drained)
            chunk[0] -= take
            drained += take
            bitrate = int(chunk[1])
            self.played_by_bitrate[bitrate] = self.played_by_bitrate.get(bitrate, 0.0) + take
            if chunk[0] <= 1e-9:
                self._chunks.popleft()
        self._level = max(0.0, self._level - drained)
        self.played_s += drained
        return drained

    def _run_dry(self, at: float) -> None:
        self._level = 0.0
        if self._stream_complete:
            self.state = "ended"
            return
        self.state = "stalled"
        self.rebuffer_count += 1
        self._stalled_since = at

    def __repr__(self) -> str:
        return (
            f"PlaybackBuffer(state={self.state!r}, level={self._level:.3f}, "
            f"rebuffers={self.rebuffer_count}, rebuffer_s={self.rebuffer_s:.3f})"
        )
