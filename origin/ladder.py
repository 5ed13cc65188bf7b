"""The rendition ladder: which renditions to make from a source, and at what bit rates."""

from __future__ import annotations

from dataclasses import dataclass

from origin.errors import PackagerError


@dataclass(frozen=True)
class Rung:
    height: int
    video_kbps: int
    audio_kbps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"


# TV renditions first (1080p, 720p), then the phone ones (480p, 360p, 240p).
DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(1080, 5000, 128),
    Rung(720, 2800, 128),
    Rung(480, 1200, 96),
    Rung(360, 700, 96),
    Rung(240, 400, 64),
)


def select_rungs(ladder: tuple[Rung, ...], source_height: int) -> tuple[Rung, ...]:
    """Rungs not above the source height; the lowest rung if the source is smaller than all."""
    fitting = tuple(rung for rung in ladder if rung.height <= source_height)
    if fitting:
        return fitting
    return (min(ladder, key=lambda rung: rung.height),) if ladder else ()


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """Parse `HEIGHT:VIDEO_KBPS:AUDIO_KBPS,...`, e.g. `720:2800:128,360:700:96`."""
    rungs = tuple(_parse_rung(item.strip()) for item in text.split(",") if item.strip())
    if not rungs:
        raise PackagerError("--ladder: empty ladder")
    if len({rung.height for rung in rungs}) != len(rungs):
        raise PackagerError("--ladder: two rungs with the same height")
    return tuple(sorted(rungs, key=lambda rung: rung.height, reverse=True))


def _parse_rung(item: str) -> Rung:
    parts = item.split(":")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise PackagerError(f"--ladder: {item!r} is not HEIGHT:VIDEO_KBPS:AUDIO_KBPS")
    height, video, audio = (int(part) for part in parts)
    if height % 2:
        raise PackagerError(f"--ladder: height {height} must be even (4:2:0 video)")
    return Rung(height, video, audio)
