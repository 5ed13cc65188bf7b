"""Low-Latency HLS rules every service shares (rfc8216bis): reading delivery directives, reading
the facts of a media playlist that the directives are judged against, and building a delta update
(`_HLS_skip`) from a full playlist. Pure functions of strings; the origin, the edge and the harness
all use these, so the rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

Skip = Literal["", "YES", "v2"]


class DirectiveError(ValueError):
    """Directives the spec says to answer with 400 Bad Request (rfc8216bis 6.2.5.2)."""


@dataclass(frozen=True)
class Directives:
    msn: int | None = None
    part: int | None = None
    skip: Skip = ""

    @property
    def blocks(self) -> bool:
        return self.msn is not None


def parse_directives(query: str) -> Directives:
    """`_HLS_msn`, `_HLS_part` and `_HLS_skip` from a query string; anything else is ignored."""
    values = dict(parse_qsl(query, keep_blank_values=True))
    msn = _count(values.get("_HLS_msn"), "_HLS_msn")
    part = _count(values.get("_HLS_part"), "_HLS_part")
    if part is not None and msn is None:
        # rfc8216bis 6.2.5.2: _HLS_part without _HLS_msn is a bad request.
        raise DirectiveError("_HLS_part needs _HLS_msn")
    skip = values.get("_HLS_skip", "")
    if skip not in ("", "YES", "v2"):
        raise DirectiveError(f"_HLS_skip must be YES or v2, not {skip!r}")
    return Directives(msn, part, skip)  # type: ignore[arg-type]  # checked just above


def _count(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise DirectiveError(f"{name} must be a decimal integer, not {value[:20]!r}")
    return int(value)


@dataclass(frozen=True)
class PlaylistFacts:
    """What a media playlist says about where it ends (the input to every blocking decision)."""

    target_duration: float
    media_sequence: int
    segments: int  # complete segments listed (EXTINF), skipped ones included
    trailing_parts: int  # parts listed after the last complete segment
    parts_of_last: int  # parts listed for the last complete segment
    part_target: float | None
    can_block: bool
    can_skip_until: float | None
    ended: bool

    @property
    def last_msn(self) -> int:
        """The MSN of the newest (maybe still growing) segment the playlist knows of."""
        last_complete = self.media_sequence + self.segments - 1
        return last_complete + 1 if self.trailing_parts else last_complete

    @property
    def last_part(self) -> int:
        return (self.trailing_parts or self.parts_of_last) - 1

    def satisfies(self, msn: int, part: int | None) -> bool:
        """rfc8216bis 6.2.5.2: holds a segment MSN >= msn, or part `part` of segment `msn`."""
        last_complete = self.media_sequence + self.segments - 1
        if part is None:
            return last_complete >= msn
        if last_complete >= msn:
            return True
        return self.trailing_parts > 0 and last_complete + 1 == msn and self.last_part >= part

    def is_too_far_ahead(self, msn: int, part: int | None) -> bool:
        """rfc8216bis 6.2.5.2: more than two segments past the last one is answered 400."""
        return msn > self.last_msn + 2


def read_facts(text: str) -> PlaylistFacts:
    target = 0.0
    sequence = 0
    segments = 0
    parts = 0
    parts_of_last = 0
    part_target: float | None = None
    can_block = False
    skip_until: float | None = None
    ended = False
    for line in text.splitlines():
        if not line.startswith("#EXT"):
            continue
        tag, _, value = line.partition(":")
        if tag == "#EXTINF":
            segments += 1
            parts_of_last, parts = parts, 0
        elif tag == "#EXT-X-PART":
            parts += 1
        elif tag == "#EXT-X-SKIP":
            segments += int(attributes(value).get("SKIPPED-SEGMENTS", "0") or 0)
        elif tag == "#EXT-X-TARGETDURATION":
            target = _number(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            sequence = int(_number(value))
        elif tag == "#EXT-X-PART-INF":
            part_target = _number(attributes(value).get("PART-TARGET", ""))
        elif tag == "#EXT-X-SERVER-CONTROL":
            control = attributes(value)
            can_block = control.get("CAN-BLOCK-RELOAD") == "YES"
            if "CAN-SKIP-UNTIL" in control:
                skip_until = _number(control["CAN-SKIP-UNTIL"])
        elif tag == "#EXT-X-ENDLIST" or line == "#EXT-X-PLAYLIST-TYPE:VOD":
            ended = True
    return PlaylistFacts(
        target, sequence, segments, parts, parts_of_last, part_target, can_block, skip_until, ended
    )


def _number(value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        return 0.0


def attributes(value: str) -> dict[str, str]:
    """An attribute list (RFC 8216 4.2), quoted strings unquoted; commas inside quotes kept."""
    found: dict[str, str] = {}
    rest = value
    while rest:
        name, _, rest = rest.partition("=")
        if rest.startswith('"'):
            quoted, _, rest = rest[1:].partition('"')
            found[name.strip()] = quoted
            rest = rest.partition(",")[2]
        else:
            raw, _, rest = rest.partition(",")
            found[name.strip()] = raw.strip()
    return found


# Tags that describe one media segment and go with it when it is skipped (rfc8216bis 4.4.5.2).
_SEGMENT_TAGS = (
    "#EXTINF",
    "#EXT-X-BYTERANGE",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-GAP",
    "#EXT-X-BITRATE",
    "#EXT-X-PART:",
)


def delta_update(text: str, skip: Skip) -> str:
    """The playlist with its oldest segments replaced by EXT-X-SKIP (rfc8216bis 6.2.5.1).

    Only segments that end at least CAN-SKIP-UNTIL seconds before the end of the playlist are
    skipped, and never a segment that still lists parts. The media sequence and discontinuity
    sequence keep counting the skipped segments; their tags (EXT-X-DISCONTINUITY,
    EXT-X-PROGRAM-DATE-TIME) go with them. A playlist that does not allow skipping is returned
    unchanged.
    """
    facts = read_facts(text)
    if not skip or facts.can_skip_until is None or facts.ended:
        return text
    lines = text.splitlines()
    head_end = next(
        (i for i, line in enumerate(lines) if line.startswith(_SEGMENT_TAGS)), len(lines)
    )
    blocks = _segment_blocks(lines[head_end:])
    durations = [_block_duration(block) for block in blocks]
    total = sum(duration for duration in durations if duration is not None)
    skipped = 0
    elapsed = 0.0
    for block, duration in zip(blocks, durations, strict=True):
        if duration is None or any(line.startswith("#EXT-X-PART:") for line in block):
            break
        elapsed += duration
        if total - elapsed < facts.can_skip_until:
            break
        skipped += 1
    if not skipped:
        return text
    extra = ',RECENTLY-REMOVED-DATERANGES=""' if skip == "v2" else ""
    head = [_skip_version(line, skip) for line in lines[:head_end]]
    tail = [line for block in blocks[skipped:] for line in block]
    return "\n".join([*head, f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}{extra}", *tail]) + "\n"


def _segment_blocks(lines: list[str]) -> list[list[str]]:
    """Lines grouped per media segment (tags then URI); the trailing lines form the last group."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        blocks[-1].append(line)
        if line and not line.startswith("#"):
            blocks.append([])
    return [block for block in blocks if block]


def _block_duration(block: list[str]) -> float | None:
    if not block[-1] or block[-1].startswith("#"):
        return None  # no URI: the trailing parts, hints and reports
    for line in block:
        if line.startswith("#EXTINF:"):
            return _number(line[8:].partition(",")[0])
    return None


def _skip_version(line: str, skip: Skip) -> str:
    """EXT-X-SKIP needs protocol version 9; RECENTLY-REMOVED-DATERANGES needs 10."""
    if not line.startswith("#EXT-X-VERSION:"):
        return line
    needed = 10 if skip == "v2" else 9
    return f"#EXT-X-VERSION:{max(needed, int(_number(line[15:])))}"
