"""What the origin's live channels carry now, for tests that hold a viewer below it."""

from __future__ import annotations

import urllib.request

from loadtest.playlist import parse_master, parse_media


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return bytes(answer.read())


def starving_kbps(origin: str, channel: str, share: float) -> int:
    """`share` of what the channel's lowest rendition carries now: the timetable's lessons'
    lowest rungs carry 100 to 250 kbit/s, so a fixed figure starves viewers in one lesson only
    (and in another never lets them start)."""
    master_url = f"{origin}/live/{channel}/master.m3u8"
    lowest = min(parse_master(_get(master_url).decode(), master_url), key=lambda v: v.bandwidth)
    newest = parse_media(_get(lowest.url).decode(), lowest.url).segments[-1]
    return int(len(_get(newest.url)) * 8 / newest.duration / 1000 * share)
