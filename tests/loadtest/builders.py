"""Playlist builders that keep test fixtures readable."""

from __future__ import annotations


def master_playlist(ladder: list[tuple[str, int]]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, bandwidth in ladder:
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}", f"{name}/index.m3u8"]
    return "\n".join(lines) + "\n"


def media_playlist(
    first: int, count: int, target: int = 4, duration: float = 4.0, ended: bool = False
) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for sequence in range(first, first + count):
        lines += [f"#EXTINF:{duration:.3f},", f"seg_{sequence:05d}.ts"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
