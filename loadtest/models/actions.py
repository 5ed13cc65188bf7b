"""What a viewer model asks for, and what the driver tells it back. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RequestKind = Literal["master", "playlist", "segment"]
Lane = Literal["playlist", "segment"]
LANES: tuple[Lane, ...] = ("playlist", "segment")


@dataclass(frozen=True, slots=True)
class Fetch:
    kind: RequestKind
    url: str
    level: int = -1
    sequence: int = -1
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class Wait:
    """Ask again at `until`, or when the other lane makes progress if `until` is None."""

    until: float | None


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Action = Fetch | Wait | Stop


@dataclass(frozen=True, slots=True)
class Response:
    status: int  # 0 when the request failed below HTTP (refused, reset, timed out)
    started: float
    finished: float
    size: int
    body: str | None = None  # playlists only; segment bodies are counted and discarded
    url: str | None = None  # where the answer came from after redirects, if not the asked URL

    @property
    def is_ok(self) -> bool:
        return 200 <= self.status < 300
