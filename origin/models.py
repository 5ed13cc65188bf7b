"""Plain value types shared by the library, the live channels and the packager."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Lesson, channel and rendition ids travel in URL paths: keep them to a safe alphabet and never
# let them start with a dot, so "." and ".." are not ids.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def is_safe_name(name: str) -> bool:
    return SAFE_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float


@dataclass(frozen=True)
class Rendition:
    """One variant stream of a lesson: its master attributes and its media segments."""

    name: str
    uri: str
    bandwidth: int
    average_bandwidth: int | None
    resolution: tuple[int, int] | None
    codecs: str | None
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    @property
    def folder(self) -> str:
        """The rendition playlist's folder inside the lesson, '' at the lesson root."""
        return self.uri.rpartition("/")[0]


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    path: Path
    renditions: tuple[Rendition, ...]
    grade: str = ""  # for grouping the library in the portal; "" when lesson.toml has none
    subject: str = ""

    @property
    def duration(self) -> float:
        return max((rendition.duration for rendition in self.renditions), default=0.0)

    def rendition(self, name: str) -> Rendition | None:
        return next((r for r in self.renditions if r.name == name), None)

    @property
    def rendition_names(self) -> tuple[str, ...]:
        return tuple(rendition.name for rendition in self.renditions)
