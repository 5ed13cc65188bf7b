"""The city run's typed settings, checked before anything is built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loadtest.city.shaping import ACCESS_KINDS, Access
from loadtest.config import parse_mix
from loadtest.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class CitySettings:
    shields: int = 2
    edges: int = 3
    viewer_hosts: int = 2
    viewers: int = 300
    duration_s: float = 60.0
    ramp_s: float = 10.0
    kill_shield_at: float | None = None
    report_dir: Path = ROOT / "reports" / "city"
    access: Access = "iptv"
    # the legacy channel: the city is the IPTV audience the planner models (an LL channel's
    # playlists are fresh for 1 s, not half a target duration, so its origin rate is higher)
    channel: str = "grade-10"
    mix: str = "stb=0.8,phone=0.2"
    prometheus: bool = False
    tls: bool = False  # edges reach the shields over HTTPS, verified against the run's CA
    shield_config: Path = ROOT / "config" / "shield.toml"
    edge_config: Path = ROOT / "config" / "edge.toml"
    sample_interval_s: float = 2.0

    @property
    def warmup_s(self) -> float:
        """Rates are read after the ramp and the viewers' first buffer fill (a few segments)."""
        return min(self.ramp_s + 10.0, self.duration_s / 2)


def validate(settings: CitySettings) -> CitySettings:
    checks = [
        (1 <= settings.shields <= 250, "shields: 1 to 250"),
        (1 <= settings.edges <= 250, "edges: 1 to 250"),
        (1 <= settings.viewer_hosts <= 250, "viewer-hosts: 1 to 250"),
        (settings.viewers >= settings.edges, "viewers: at least one per edge"),
        (settings.duration_s >= 20, "duration: at least 20 seconds"),
        (0 <= settings.ramp_s < settings.duration_s, "ramp: within the duration"),
        (settings.access in ACCESS_KINDS, f"access: one of {', '.join(ACCESS_KINDS)}"),
        (settings.shield_config.is_file(), f"shield-config: no file {settings.shield_config}"),
        (settings.edge_config.is_file(), f"edge-config: no file {settings.edge_config}"),
    ]
    kill = settings.kill_shield_at
    checks.append(
        (kill is None or 0 < kill < settings.duration_s, "kill-shield-at: within the run")
    )
    checks.append((kill is None or settings.shields >= 2, "kill-shield-at: needs two shields"))
    for holds, message in checks:
        if not holds:
            raise ConfigError(message)
    parse_mix(settings.mix)
    return settings
