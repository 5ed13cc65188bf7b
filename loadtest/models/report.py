"""One viewer's quality of experience, as the model saw it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class ViewerReport:
    cohort: str
    startup_time: float | None = None
    start_failed: bool = False
    rebuffer_count: int = 0
    rebuffer_s: float = 0.0
    played_s: float = 0.0
    bitrate_bps: float = 0.0  # time-weighted over what was played
    switches: int = 0
    seconds_by_rendition: dict[str, float] = field(default_factory=dict)
    segment_ratio_mean: float = 0.0  # download time / segment duration
    segment_ratio_max: float = 0.0
    live_lag_mean: float | None = None
    stale_playlists: int = 0
    not_found: int = 0
    errors: int = 0
    resyncs: int = 0  # fell out of the live window and jumped back in
    # LL-HLS viewers: wall clock minus the program date-time of what plays, once per part
    latency_samples: list[float] = field(default_factory=list)

    @property
    def rebuffer_ratio(self) -> float:
        watched = self.played_s + self.rebuffer_s
        return self.rebuffer_s / watched if watched > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rebuffer_ratio": self.rebuffer_ratio}
