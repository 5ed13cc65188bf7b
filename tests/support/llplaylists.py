"""A builder of LL-HLS media playlists for tests: readable fixtures instead of pasted text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(2025, 9, 1, 8, 0, 0, tzinfo=UTC)  # program date-time of segment `first`


def playlist(
    segments: int,
    parts_last: int = 0,
    trailing: int = 0,
    first: int = 100,
    skip: bool = True,
    target: int = 4,
) -> str:
    """A live LL playlist of `target`-second segments (MSN `first` on), the last complete one
    listing `parts_last` parts, then `trailing` parts of the next and a preload hint."""
    until = ",CAN-SKIP-UNTIL=24.0" if skip else ""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES{until},PART-HOLD-BACK=1.5",
        "#EXT-X-PART-INF:PART-TARGET=0.5",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for n in range(first, first + segments):
        if n == first + 2:
            lines.append("#EXT-X-DISCONTINUITY")
        stamp = EPOCH + timedelta(seconds=(n - first) * target)
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp.isoformat(timespec='milliseconds')}")
        if n == first + segments - 1:
            lines += [f'#EXT-X-PART:DURATION=0.5,URI="p{n}.{i}.ts"' for i in range(parts_last)]
        lines += [f"#EXTINF:{target}.0,", f"s{n}.ts"]
    last = first + segments
    lines += [f'#EXT-X-PART:DURATION=0.5,URI="p{last}.{i}.ts"' for i in range(trailing)]
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p{last}.{trailing}.ts"')
    return "\n".join(lines) + "\n"
