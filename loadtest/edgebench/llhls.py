"""`--scenarios llhls`: many viewers holding blocking reloads (rfc8216bis `_HLS_msn`/`_HLS_part`)
for the next part of one rendition through one server, our edge and nginx proxy_cache (lock on)
alike. Per part: upstream requests for the playlist, and how long after the first waiter was
answered (the moment the origin's answer reached the server) the last one was."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from dataclasses import asdict, dataclass

import aiohttp

LL_PLAYLIST = "/live/grade-5/180p/index.m3u8"  # an LL channel of config/schedule.toml


def next_part(origin: str) -> tuple[int, int]:
    """The part the origin's preload hint names: the next to exist."""
    text = urllib.request.urlopen(origin + LL_PLAYLIST, timeout=5).read().decode()
    hint = next(line for line in text.splitlines() if line.startswith("#EXT-X-PRELOAD-HINT"))
    msn, part = hint.split("parts/")[1].split(".ts")[0].split(".")
    return int(msn), int(part)


def origin_playlist_requests(origin: str) -> int:
    with urllib.request.urlopen(origin + "/_stats", timeout=5) as answer:
        return int(json.loads(answer.read())["requests"].get(LL_PLAYLIST, 0))


@dataclass(frozen=True)
class Round:
    part: str
    ok: int
    upstream_requests: int
    last_waiter_ms: float
    p99_waiter_ms: float


async def held_reloads(server: str, origin: str, viewers: int, parts: int) -> dict[str, object]:
    rounds = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for _ in range(parts):
            msn, part = next_part(origin)
            before = origin_playlist_requests(origin)
            target = f"{server}{LL_PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}"

            async def one(target: str) -> tuple[int, float]:
                async with session.get(target) as response:
                    await response.read()
                    return response.status, time.monotonic()

            results = await asyncio.gather(*(one(target) for _ in range(viewers)))
            upstream = origin_playlist_requests(origin) - before
            times = sorted(at for _, at in results)
            spread = [at - times[0] for at in times]
            rounds.append(
                Round(
                    f"{msn}.{part}",
                    sum(status == 200 for status, _ in results),
                    upstream,
                    1000 * spread[-1],
                    1000 * spread[max(0, int(0.99 * len(spread)) - 1)],
                )
            )
    return {
        "viewers": viewers,
        "rounds": [asdict(r) for r in rounds],
        "upstream_requests_per_part": statistics.mean(r.upstream_requests for r in rounds),
        "p99_waiter_ms": statistics.median(r.p99_waiter_ms for r in rounds),
        "last_waiter_ms": statistics.median(r.last_waiter_ms for r in rounds),
        "ok_ratio": sum(r.ok for r in rounds) / (viewers * len(rounds)),
    }
