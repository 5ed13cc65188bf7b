"""The workers scenario (issue 8): the edge with 1 and 2 worker processes beside nginx with 1 and
2, all with their access log on; hot segments and hot playlists in interleaved rounds, server CPU
summed over each server's process tree (the supervisor or master and its workers)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
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
    print(
        f"workers: 1 and 2 worker processes, access logs on, {connections} connections,"
        f" {rounds} x {seconds} s\n  wrk has one thread on {os.cpu_count()} cores: 2 workers"
        " share them with wrk, so per-request CPU (cpu-s/GB, cpu-ms/1k req; summed over the"
        " process tree) is the figure that matters, not throughput"
    )
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
    seg: dict[str, Rounds],
    pl: dict[str, Rounds],
    cold: dict[str, float],
    live: dict[str, float] | None = None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    if live and EDGE_1W in live and EDGE_2W in live:
        out["live playlist upstream req/min, edge 2w - 1w (target within 1)"] = (
            live[EDGE_2W] - live[EDGE_1W]
        )
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


LIVE_CHANNEL = "/live/grade-5/"
LIVE_VIEWERS = 40


def live_playlist_rates(s: Stack, seconds: int) -> dict[str, float]:
    """Upstream requests per minute for a watched live channel's playlists, through the edge
    with 1 and then 2 workers: set-top boxes from the harness, one connection each, so they
    spread over the workers (issue 8: the same with 1 and 2 workers, within 1)."""
    print(f"live playlists: {LIVE_VIEWERS} set-top boxes on {LIVE_CHANNEL} for {seconds} s each")
    rates: dict[str, float] = {}
    for name in (EDGE_1W, EDGE_2W):
        if name not in s.url:
            continue
        origin = s.url["origin"]
        urllib.request.urlopen(origin + "/_stats/reset", data=b"").read()
        before = worker_requests(s.url[name])
        subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtest",
                "run",
                "--target",
                f"{s.url[name]}{LIVE_CHANNEL}master.m3u8",
                "--viewers",
                str(LIVE_VIEWERS),
                "--duration",
                str(seconds),
                "--ramp",
                "5",
                "--no-progress",
            ],
            check=True,
            capture_output=True,
            timeout=seconds + 120,
        )
        counts = json.loads(urllib.request.urlopen(origin + "/_stats").read())["requests"]
        playlists = sum(
            n
            for path, n in counts.items()
            if path.startswith(LIVE_CHANNEL) and path.endswith(".m3u8")
        )
        rates[name] = playlists * 60 / seconds
        answered = {i: n - before.get(i, 0) for i, n in worker_requests(s.url[name]).items()}
        spread = ", ".join(f"{i}: {n:.0f}" for i, n in sorted(answered.items())) or "one process"
        print(
            f"  {name:<34} {rates[name]:6.1f} upstream playlist requests per minute;"
            f" requests answered by each worker: {spread}"
        )
    return rates


def worker_requests(edge: str) -> dict[str, float]:
    """Requests each worker of a node answered so far, from its /metrics (empty: one process)."""
    text = urllib.request.urlopen(edge + "/metrics").read().decode()
    pattern = r'^classcast_edge_worker_requests\{[^}]*worker="(\d+)"[^}]*\} (\S+)$'
    return {index: float(count) for index, count in re.findall(pattern, text, re.M)}
