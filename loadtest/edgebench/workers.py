"""The workers scenario (issue 8): the edge with 1 and 2 worker processes beside nginx with 1 and
2, all with their access log on; hot segments and hot playlists in interleaved rounds, server CPU
summed over each server's process tree (the supervisor or master and its workers)."""

from __future__ import annotations

import os
from pathlib import Path

from loadtest.edgebench.procs import process_tree
from loadtest.edgebench.scenarios import Rounds, hot, ratio
from loadtest.edgebench.stack import (
    EDGE_1W,
    EDGE_2W,
    NGINX_1W,
    NGINX_2W,
    PLAYLIST_PATH,
    SEGMENT_PATH,
    Stack,
)

SERVERS = (EDGE_1W, EDGE_2W, NGINX_1W, NGINX_2W)
COMPARISONS = (  # a, b, what a / b compares, the CPU target issue 8 sets
    (EDGE_2W, EDGE_1W, "edge 2w / 1w", " (target <= 1.10)"),
    (NGINX_2W, NGINX_1W, "nginx 2w / 1w", ""),
    (EDGE_1W, NGINX_1W, "edge / nginx, 1w each", ""),
    (EDGE_2W, NGINX_2W, "edge / nginx, 2w each", ""),
)


def workers_hot(
    s: Stack, rounds: int, seconds: int, connections: int, script: Path
) -> tuple[dict[str, Rounds], dict[str, Rounds]]:
    """Hot segments, then hot playlists, against those of the four servers that started."""
    print(f"workers: 1 and 2 worker processes, access logs on, {connections} connections,"
          f" {rounds} x {seconds} s\n  wrk has one thread on {os.cpu_count()} cores: 2 workers"
          " share them with wrk, so per-request CPU (cpu-s/GB, cpu-ms/1k req; summed over the"
          " process tree) is the figure that matters, not throughput")  # fmt: skip
    for name, why in s.skipped.items():
        print(f"  skipped {name}, no figures: {why}")
    names = [n for n in SERVERS if n in s.pid]
    for name in names:
        print(f"  {name}: process tree of {len(process_tree(s.pid[name]))}")
    print("hot 2 MB segment")
    segments = [s.target(n, n, SEGMENT_PATH) for n in names]
    seg = hot(segments, rounds, seconds, connections, script)
    print(f"hot playlist ({s.playlist_size} bytes)")
    playlists = [s.target(n, n, PLAYLIST_PATH) for n in names]
    return seg, hot(playlists, rounds, seconds, connections, script)


def workers_ratios(
    seg: dict[str, Rounds], pl: dict[str, Rounds], cold: dict[str, float]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for a, b, pair, target in COMPARISONS:
        if a in pl and b in pl:
            out[f"playlist cpu/1k req, {pair}{target}"] = ratio(
                pl[a], pl[b], "cpu_ms_per_1000_requests"
            )
            out[f"playlist req/s, {pair}"] = ratio(pl[a], pl[b], "requests_per_s")
        if a in seg and b in seg:
            out[f"segment cpu/GB, {pair}{target}"] = ratio(seg[a], seg[b], "cpu_s_per_gb")
            out[f"segment GB/s, {pair}"] = ratio(seg[a], seg[b], "gbytes_per_s")
    if cold:
        out[f"cold, 2w: origin fetches for {cold['requests']:.0f} requests (target 1)"] = cold[
            "upstream_fetches"
        ]
        out["cold, 2w: waiter TTFB p50 / first TTFB (target <= 1.2)"] = (
            cold["waiter_ttfb_p50_s"] / cold["first_ttfb_s"]
        )
    return out
