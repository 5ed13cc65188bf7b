"""python -m loadtest.edgebench [--seconds 5] [--rounds 3] [--connections 32] [--json FILE] [--tls]
    [--scenarios segments,playlists,cold,workers,hotset,llhls] [--live-seconds 60]

Hot 2 MB segments and hot playlists through the edge, against aiohttp baselines (and nginx
proxy_cache when installed) in the same run; then cold misses. `workers`, only when named: the
edge with --workers 1 and 2 against nginx with 1 and 2 workers, then cold misses on the
2-worker edge and the upstream rate of a watched live channel's playlists. Everything is a
separate process on loopback; server CPU comes from /proc/<pid>/stat around each wrk run,
summed over a server's process tree. The edge is driven over HTTP only: loadtest/ never
imports edge/.

`hotset`, only when named (issue 21): the edge's hot tier against nginx and Varnish (malloc
storage) with 1 and 2 workers each, a long tail beyond the hot budget, and the edges' RSS
(loadtest/edgebench/hotset.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from loadtest.edgebench.hotset import run_hotset, start_servers
from loadtest.edgebench.llhls import held_reloads
from loadtest.edgebench.procs import WRK_REPORT
from loadtest.edgebench.scenarios import Rounds, cold_misses, hot, ratio
from loadtest.edgebench.stack import (
    BARE,
    BARE_HEADERS,
    BYTES,
    COLD_PATH,
    EDGE,
    EDGE_2W,
    EDGE_LL_2W,
    EDGE_LOGGING,
    FILE_RESPONSE,
    NGINX,
    NGINX_LOGGING,
    PLAYLIST_PATH,
    SEGMENT_PATH,
    VIEWERS_OFF,
    VIEWERS_ON,
    Stack,
    set_faults,
)
from loadtest.edgebench.tls import EDGE_TLS, HANDSHAKE_CLIENTS, NGINX_TLS, handshake_rounds
from loadtest.edgebench.workers import live_playlist_rates, workers_hot, workers_ratios

COLD_WAITERS = 500
SCENARIOS = ("segments", "playlists", "cold", "workers", "hotset", "tls", "llhls", "viewers")
LL_VIEWERS = 1000
LL_PARTS = 5


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.edgebench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--live-seconds",
        type=int,
        default=60,
        help="workers: seconds of live viewers per edge (0: skip the live playlist rate)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda v: set(v.split(",")),
        default={"segments", "playlists", "cold"},
        help="comma list of segments, playlists, cold, workers, hotset, llhls, viewers"
        " (default: segments, playlists, cold)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="only the HTTPS comparison: edge and nginx, one process each (edgebench/tls.py)",
    )
    args = parser.parse_args()
    if args.tls:
        args.scenarios = {"tls"}
    if unknown := args.scenarios - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        raise SystemExit("edgebench: wrk is needed (apt-get install wrk)")
    root = Path(tempfile.mkdtemp(prefix="edgebench-"))
    script = root / "report.lua"
    script.write_text(WRK_REPORT)
    try:
        with ExitStack() as stack:
            results = run(Stack(root, stack, args.scenarios), args, script)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def run(s: Stack, args: argparse.Namespace, script: Path) -> dict[str, object]:
    nginx = [n for n in (NGINX, NGINX_LOGGING) if n in s.pid]
    results: dict[str, object] = {
        "seconds": args.seconds,
        "rounds": args.rounds,
        "connections": args.connections,
    }
    seg: dict[str, Rounds] = {}
    pl: dict[str, Rounds] = {}
    cold: dict[str, float] = {}
    if "segments" in args.scenarios:
        print(f"hot 2 MB segment: {args.connections} connections, {args.rounds} x {args.seconds} s")
        servers = [
            (EDGE, EDGE, SEGMENT_PATH),
            (EDGE_LOGGING, EDGE_LOGGING, SEGMENT_PATH),
            (FILE_RESPONSE, "baseline", "/file"),
            (BYTES, "baseline", "/bytes"),
        ] + [(n, n, SEGMENT_PATH) for n in nginx]
        seg = hot(
            [s.target(*t) for t in servers], args.rounds, args.seconds, args.connections, script
        )
        results["segments"] = [r.summary() for r in seg.values()]
    if "playlists" in args.scenarios:
        print(f"hot playlist ({s.playlist_size} bytes)")
        servers = [
            (EDGE, EDGE, PLAYLIST_PATH),
            (EDGE_LOGGING, EDGE_LOGGING, PLAYLIST_PATH),
            (BARE, "baseline", "/const"),
            (BARE_HEADERS, "baseline", "/const-edge-headers"),
        ] + [(n, n, PLAYLIST_PATH) for n in nginx]
        pl = hot(
            [s.target(*t) for t in servers], args.rounds, args.seconds, args.connections, script
        )
        results["playlists"] = [r.summary() for r in pl.values()]
    if "cold" in args.scenarios:
        cold = cold_scenario(s, s.url[EDGE], EDGE)
        results["cold"] = cold
    ratios = compute_ratios(seg, pl, cold)
    if "tls" in args.scenarios:
        results["tls"], more = tls_scenario(s, args, script)
        ratios.update(more)
    if "llhls" in args.scenarios:
        results["llhls"] = llhls_scenario(s, nginx)
    if "workers" in args.scenarios:
        results["workers"], more = workers_scenario(s, args, script)
        ratios.update(more)
    if "viewers" in args.scenarios and VIEWERS_OFF in s.url:
        results["viewers"], more = viewers_scenario(s, args, script)
        ratios.update(more)
    if "hotset" in args.scenarios:
        start_servers(s)
        results["hotset"] = run_hotset(s, args.rounds, args.seconds, args.connections, script)
    if ratios:
        print("ratios (median of per-round ratios)")
    for key, value in ratios.items():
        print(f"  {key:<58} {value:6.2f}")
    results["ratios"] = ratios
    return results


def workers_scenario(
    s: Stack, args: argparse.Namespace, script: Path
) -> tuple[dict[str, object], dict[str, float]]:
    """Figures and ratios of the workers scenario; cold misses on the 2-worker edge if it runs."""
    seg, pl = workers_hot(s, args.rounds, args.seconds, args.connections, script)
    cold = cold_scenario(s, s.url[EDGE_2W], EDGE_2W) if EDGE_2W in s.url else {}
    live = live_playlist_rates(s, args.live_seconds) if args.live_seconds else {}
    results: dict[str, object] = {
        "segments": [r.summary() for r in seg.values()],
        "playlists": [r.summary() for r in pl.values()],
        "cold": cold,
        "live_playlist_requests_per_minute": live,
        "skipped": s.skipped,
    }
    return results, workers_ratios(seg, pl, cold, live)


def tls_scenario(
    s: Stack, args: argparse.Namespace, script: Path
) -> tuple[dict[str, object], dict[str, float]]:
    if NGINX_TLS not in s.url:
        raise SystemExit("edgebench: --tls compares against nginx, which is not installed")
    per_gb, gb, per_1k = "cpu_s_per_gb", "gbytes_per_s", "cpu_ms_per_1000_requests"
    print(f"https, hot 2 MB segment: {args.connections} keep-alive connections")
    seg = hot(
        [s.target(n, n, SEGMENT_PATH) for n in (EDGE_TLS, NGINX_TLS)],
        args.rounds, args.seconds, args.connections, script,
    )  # fmt: skip
    print("https, hot playlist")
    pl = hot(
        [s.target(n, n, PLAYLIST_PATH) for n in (EDGE_TLS, NGINX_TLS)],
        args.rounds, args.seconds, args.connections, script,
    )  # fmt: skip
    print(f"https, connections with one request each ({HANDSHAKE_CLIENTS} openssl s_time)")
    hs = handshake_rounds(
        [s.target(n, n, PLAYLIST_PATH) for n in (EDGE_TLS, NGINX_TLS)], args.rounds, args.seconds
    )
    e, n = EDGE_TLS, NGINX_TLS

    def hs_ratio(mode: str, figure: str) -> float:
        pairs = zip(hs[(e, mode)], hs[(n, mode)], strict=True)
        return float(statistics.median(getattr(a, figure) / getattr(b, figure) for a, b in pairs))

    ratios = {
        "https segment cpu/GB, edge / nginx (target <= 1.3)": ratio(seg[e], seg[n], per_gb),
        "https segment GB/s, edge / nginx (target >= 0.8)": ratio(seg[e], seg[n], gb),
        "https playlist cpu/1k req, edge / nginx (target <= 1.3)": ratio(pl[e], pl[n], per_1k),
        "https playlist req/s, edge / nginx": ratio(pl[e], pl[n], "requests_per_s"),
        "https full handshakes/s, edge / nginx (target >= 0.8)": hs_ratio("new", "per_s"),
        "https full handshake cpu/conn, edge / nginx": hs_ratio("new", "cpu_ms_per_connection"),
        "https resumed/s, edge / nginx (target >= 0.8)": hs_ratio("reuse", "per_s"),
        "https resumed cpu/conn, edge / nginx": hs_ratio("reuse", "cpu_ms_per_connection"),
    }
    results: dict[str, object] = {
        "segments": [r.summary() for r in seg.values()],
        "playlists": [r.summary() for r in pl.values()],
        "handshakes": [
            {"server": h.name, "mode": h.mode, "per_s": h.per_s, "cpu_ms": h.cpu_ms_per_connection}
            for runs in hs.values()
            for h in runs
        ],
    }
    return results, ratios


def viewers_scenario(
    s: Stack, args: argparse.Namespace, script: Path
) -> tuple[dict[str, object], dict[str, float]]:
    """Issue 19's cost: the same edge with viewer sessions and histograms on and off."""
    print("viewers on and off: hot playlist, then hot 2 MB segment")
    names = (VIEWERS_ON, VIEWERS_OFF)
    targets = [s.target(name, name, PLAYLIST_PATH) for name in names]
    pl = hot(targets, args.rounds, args.seconds, args.connections, script)
    targets = [s.target(name, name, SEGMENT_PATH) for name in names]
    seg = hot(targets, args.rounds, args.seconds, args.connections, script)
    ratios = {
        "playlist cpu/1k req, viewers on / off (target <= 1.05)": ratio(
            pl[VIEWERS_ON], pl[VIEWERS_OFF], "cpu_ms_per_1000_requests"
        ),
        "segment cpu/GB, viewers on / off (target <= 1.03)": ratio(
            seg[VIEWERS_ON], seg[VIEWERS_OFF], "cpu_s_per_gb"
        ),
    }
    results: dict[str, object] = {
        "playlists": [r.summary() for r in pl.values()],
        "segments": [r.summary() for r in seg.values()],
    }
    return results, ratios


def llhls_scenario(s: Stack, nginx: list[str]) -> dict[str, object]:
    """issue 20: held blocking reloads for the next part, the edge and nginx in the same run."""
    figures: dict[str, object] = {}
    p99: dict[str, float] = {}
    for name in [EDGE, *([EDGE_LL_2W] if EDGE_LL_2W in s.url else []), *nginx[:1]]:
        print(f"LL-HLS: {LL_VIEWERS} viewers holding blocking reloads through {name}")
        got = held_reloads(s.url[name], s.url["origin"], LL_VIEWERS, LL_PARTS)
        figures[name] = got
        p99[name] = float(str(got["p99_waiter_ms"]))
        print(
            f"  upstream requests per part {got['upstream_requests_per_part']:.2f}, "
            f"waiters answered after the first: p99 {got['p99_waiter_ms']:.1f} ms, "
            f"last {got['last_waiter_ms']:.1f} ms, ok {got['ok_ratio']:.3f}"
        )
    if nginx[:1] and nginx[0] in p99:
        for name, ms in p99.items():
            if name != nginx[0] and ms:
                print(f"  ratio nginx / {name} at p99: {p99[nginx[0]] / ms:.1f}x")
    return figures


def cold_scenario(s: Stack, edge: str, name: str) -> dict[str, float]:
    """Cold misses through the edge at URL `edge`, whose cache has not seen COLD_PATH yet."""
    print(
        f"cold misses, {name}: {COLD_WAITERS} concurrent requests for one object"
        " (origin 200 ms, 1 s body)"
    )
    size = len(urllib.request.urlopen(s.url["origin"] + COLD_PATH).read())
    urllib.request.urlopen(s.url["origin"] + "/_stats/reset", data=b"").read()
    set_faults(s.url["origin"], latency_ms=200, bytes_per_second=size, path_prefix=COLD_PATH)
    cold = asyncio.run(cold_misses(edge, s.url["origin"], COLD_PATH, COLD_WAITERS))
    set_faults(s.url["origin"])
    for key, value in cold.items():
        print(f"  {key:<20} {value:.3f}" if isinstance(value, float) else f"  {key:<20} {value}")
    return cold


def compute_ratios(
    seg: dict[str, Rounds], pl: dict[str, Rounds], cold: dict[str, float]
) -> dict[str, float]:
    gb, per_gb, per_1k = "gbytes_per_s", "cpu_s_per_gb", "cpu_ms_per_1000_requests"
    out: dict[str, float] = {}
    if seg:
        out["segment cpu/GB, edge / FileResponse (target <= 0.35)"] = ratio(
            seg[EDGE], seg[FILE_RESPONSE], per_gb
        )
        out["segment GB/s, edge / FileResponse (target >= 1.5)"] = ratio(
            seg[EDGE], seg[FILE_RESPONSE], gb
        )
        out["segment cpu/GB, edge / bytes from memory"] = ratio(seg[EDGE], seg[BYTES], per_gb)
        if NGINX in seg:
            out["segment GB/s, edge / nginx, logs off"] = ratio(seg[EDGE], seg[NGINX], gb)
            out["segment cpu/GB, edge / nginx, logs off"] = ratio(seg[EDGE], seg[NGINX], per_gb)
        if NGINX_LOGGING in seg:
            out["segment GB/s, edge / nginx, logs on (target >= 1.0)"] = ratio(
                seg[EDGE_LOGGING], seg[NGINX_LOGGING], gb
            )
            out["segment cpu/GB, edge / nginx, logs on (target <= 1.2)"] = ratio(
                seg[EDGE_LOGGING], seg[NGINX_LOGGING], per_gb
            )
            out["segment cpu/GB with wrk's, edge / nginx, logs on"] = ratio(
                seg[EDGE_LOGGING], seg[NGINX_LOGGING], "system_cpu_s_per_gb"
            )
    if pl:
        out["playlist cpu/1k req, edge / bare handler (target <= 1.3)"] = ratio(
            pl[EDGE], pl[BARE], per_1k
        )
        out["playlist cpu/1k req, edge + access log / bare handler"] = ratio(
            pl[EDGE_LOGGING], pl[BARE], per_1k
        )
        out["playlist req/s, edge / bare handler"] = ratio(pl[EDGE], pl[BARE], "requests_per_s")
        out["playlist cpu/1k req, bare + edge's headers / bare handler"] = ratio(
            pl[BARE_HEADERS], pl[BARE], per_1k
        )
        out["playlist cpu/1k req, edge / bare + edge's headers"] = ratio(
            pl[EDGE], pl[BARE_HEADERS], per_1k
        )
        out["playlist cpu/1k req, edge log on / log off (target <= 1.1)"] = ratio(
            pl[EDGE_LOGGING], pl[EDGE], per_1k
        )
        if NGINX in pl:
            out["playlist req/s, edge / nginx, logs off"] = ratio(
                pl[EDGE], pl[NGINX], "requests_per_s"
            )
            out["playlist cpu/1k req, edge / nginx, logs off"] = ratio(pl[EDGE], pl[NGINX], per_1k)
        if NGINX_LOGGING in pl:
            out["playlist req/s, edge / nginx, logs on (target >= 1.0)"] = ratio(
                pl[EDGE_LOGGING], pl[NGINX_LOGGING], "requests_per_s"
            )
            out["playlist cpu/1k req, edge / nginx, logs on (target <= 1.0)"] = ratio(
                pl[EDGE_LOGGING], pl[NGINX_LOGGING], per_1k
            )
    if cold:
        out["cold: origin fetches for 500 requests"] = cold["upstream_fetches"]
        out["cold: waiter TTFB p50 / first requester TTFB"] = (
            cold["waiter_ttfb_p50_s"] / cold["first_ttfb_s"]
        )
    return out


if __name__ == "__main__":
    main()
