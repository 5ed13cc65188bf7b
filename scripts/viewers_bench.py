"""Viewer sessions: memory for N concurrent sessions, a scrape's time, and the per-request cost
of the observer (issue 19, "Memory").

    .venv/bin/python scripts/viewers_bench.py [--sessions 100000] [--workers 2]

Fills the sessions as a city's viewers would (80 % set-top boxes keyed by address and
User-Agent, 20 % phones keyed by CMCD sid, on three channels and two renditions) through the
same `Viewers.answered` the HTTP server calls, then: the bytes the sessions hold (tracemalloc,
everything allocated while filling, the recent-requests ring included), the time of a lone
edge's scrape (tally, merge, render), and a node's (each worker's tally through orjson as over
the hub channel, then merged), the best of five. BENCHMARKS.md, "Viewers: memory and scrape".
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from urllib.parse import quote

import orjson
from prometheus_client import CollectorRegistry, generate_latest

from classcast.clock import FakeClock
from edge.cache.stats import Snapshot
from edge.http.messages import Request
from edge.metrics import SnapshotCollector
from edge.serve.audience import Audience, merged
from edge.serve.viewers import Viewers

CHANNELS = ("grade-5", "grade-8", "grade-10")
AGENT = "Mozilla/5.0 (Linux; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) SmartTV/6.5"


def requests(n: int) -> list[Request]:
    made = []
    for i in range(n):
        channel = CHANNELS[i % 3]
        rendition = "360p" if i % 2 else "180p"
        target = f"/live/{channel}/{rendition}/index.m3u8"
        peer = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        headers = {"host": "edge", "user-agent": AGENT}
        if i % 5 == 0:  # a phone
            cmcd = f'bl=12300,br=690,cid="live/{channel}",mtp=9000,ot=m,sf=h,sid="{i:032x}",st=l'
            target += "?CMCD=" + quote(cmcd, safe="")
            headers["user-agent"] = "hls.js"
        made.append(Request("GET", target, headers, peer=peer))
    return made


def fill(viewers: Viewers, batch: list[Request]) -> None:
    for request in batch:
        viewers.answered(request, 200, "HIT", 800, 0.0002)


def scrape_s(tallies: list[Viewers], through_channel: bool) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        parts = [v.tally() for v in tallies]
        if through_channel:
            parts = [orjson.loads(orjson.dumps(part)) for part in parts]
        counts = merged(parts)
        registry = CollectorRegistry()
        registry.register(SnapshotCollector(Snapshot({}, {}, {}), [], counts))
        generate_latest(registry)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    batch = requests(args.sessions)
    clock = FakeClock()
    gc.collect()
    tracemalloc.start()
    lone = Viewers(Audience(args.sessions * 2), clock)
    fill(lone, batch)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_session = held / args.sessions
    print(
        f"sessions: {len(lone.audience):,}  held: {held / 1e6:.1f} MB"
        f"  ({per_session:.0f} B a session, the {len(lone.recent):,}-entry ring included)"
    )
    lone_s = scrape_s([lone], through_channel=False)
    print(f"lone edge scrape: {lone_s * 1e3:.1f} ms")
    node = [Viewers(Audience(args.sessions * 2), clock) for _ in range(args.workers)]
    for index, viewers in enumerate(node):  # each worker saw its share, and a tenth twice
        fill(viewers, batch[index :: args.workers] + batch[: args.sessions // 10])
    counts = merged([v.tally() for v in node])
    assert sum(counts.by_content.values()) == args.sessions, counts.by_content
    node_s = scrape_s(node, through_channel=True)
    print(f"node of {args.workers} workers scrape: {node_s * 1e3:.1f} ms")
    again = requests(1)[0]
    started = time.perf_counter()
    rounds = 200_000
    for _ in range(rounds):
        lone.answered(again, 200, "HIT", 800, 0.0002)
    cost = (time.perf_counter() - started) / rounds
    stb = Request("GET", "/live/grade-8/360p/index.m3u8", {"user-agent": AGENT}, peer="10.0.0.1")
    started = time.perf_counter()
    for _ in range(rounds):
        lone.answered(stb, 200, "HIT", 800, 0.0002)
    cost_stb = (time.perf_counter() - started) / rounds
    print(
        f"observer per request: phone with CMCD {cost * 1e6:.2f} us, set-top box {cost_stb * 1e6:.2f} us"
    )
    verdict = "met" if held <= 64e6 and max(lone_s, node_s) < 0.05 else "MISSED"
    print(f"target (<= 64 MB, scrape < 50 ms at {args.sessions:,} sessions): {verdict}")


if __name__ == "__main__":
    main()
