"""When to reload a live media playlist and where to start playing: RFC 8216 section 6.3.

Pure arithmetic on the clock readings a viewer already has, so a table of cases pins it.
"""

from __future__ import annotations

from loadtest.playlist import MediaPlaylist

START_DISTANCE_TARGET_DURATIONS = 3.0


def next_reload_at(load_started: float, target_duration: float, changed: bool) -> float:
    """RFC 8216 section 6.3.4: after a changed playlist wait the target duration, after an
    unchanged one half of it, both measured from when the previous load began (so the cadence
    never drifts by the time the load itself took)."""
    wait = target_duration if changed else target_duration / 2
    return load_started + wait


def start_sequence(playlist: MediaPlaylist) -> int:
    """First segment to play. VOD starts at the beginning; live starts at the last segment that
    begins at least three target durations before the end of the playlist (RFC 8216 section
    6.3.3: a client SHOULD NOT choose a segment starting less than that from the end)."""
    if playlist.is_ended or not playlist.segments:
        return playlist.first_sequence
    limit = playlist.duration - START_DISTANCE_TARGET_DURATIONS * playlist.target_duration
    chosen = playlist.first_sequence
    for segment in playlist.segments:
        if segment.start <= limit:
            chosen = segment.sequence
    return chosen
