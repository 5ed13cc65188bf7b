"""Parse an LL-HLS media playlist (rfc8216bis) into the parts a low-latency player walks, each
with its program date-time, so the harness can tell how far behind live a viewer plays."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from classcast.llhls import attributes
from loadtest.errors import PlaylistError

PARSE_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Part:
    url: str
    msn: int
    index: int
    duration: float
    independent: bool
    pdt: float | None  # unix seconds of its first sample (EXT-X-PROGRAM-DATE-TIME + offset)


@dataclass(frozen=True, slots=True)
class LowLatencyPlaylist:
    target_duration: float
    part_hold_back: float
    can_block: bool
    parts: tuple[Part, ...]  # every part listed, in order
    last_msn: int  # the newest segment with a listed part or complete
    last_part: int
    ended: bool
    growing: bool  # parts of a segment not complete yet are listed after the last segment

    def part(self, msn: int, index: int) -> Part | None:
        for part in reversed(self.parts):
            if part.msn == msn and part.index == index:
                return part
        return None

    def has_later(self, msn: int) -> bool:
        """Segment `msn` is over: a later segment's part is listed."""
        return bool(self.parts) and self.parts[-1].msn > msn

    @property
    def live_edge(self) -> float | None:
        last = self.parts[-1] if self.parts else None
        return None if last is None or last.pdt is None else last.pdt + last.duration


def parse_pdt(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_low_latency(text: str, base_url: str) -> LowLatencyPlaylist:
    if not text.lstrip("\ufeff").startswith("#EXTM3U"):
        raise PlaylistError("playlist does not start with #EXTM3U")
    target = hold_back = 0.0
    can_block = ended = False
    msn = index = 0
    segment_pdt: float | None = None
    offset = 0.0
    parts: list[Part] = []
    last_complete = -1
    for line in text.splitlines():
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION":
            target = float(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            msn = int(value)
        elif tag == "#EXT-X-SERVER-CONTROL":
            control = attributes(value)
            can_block = control.get("CAN-BLOCK-RELOAD") == "YES"
            hold_back = float(control.get("PART-HOLD-BACK", "0") or 0)
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            segment_pdt = parse_pdt(value)
        elif tag == "#EXT-X-PART":
            attrs = attributes(value)
            duration = float(attrs.get("DURATION", "0") or 0)
            pdt = None if segment_pdt is None else segment_pdt + offset
            url = urljoin(base_url, attrs.get("URI", ""))
            independent = attrs.get("INDEPENDENT") == "YES"
            parts.append(Part(url, msn, index, duration, independent, pdt))
            index += 1
            offset += duration
        elif tag == "#EXTINF":
            offset = float(value.partition(",")[0] or 0)
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):  # a segment's URI ends the segment
            last_complete = msn
            if segment_pdt is not None:
                segment_pdt += offset
            msn, index, offset = msn + 1, 0, 0.0
    if not target:
        raise PlaylistError(f"{base_url} has no EXT-X-TARGETDURATION")
    last = parts[-1] if parts else None
    if last is not None and last.msn > last_complete:
        last_msn, last_part = last.msn, last.index
    else:
        last_msn = last_complete
        last_part = last.index if last is not None and last.msn == last_complete else -1
    growing = last is not None and last.msn > last_complete
    return LowLatencyPlaylist(
        target, hold_back, can_block, tuple(parts), last_msn, last_part, ended, growing
    )
