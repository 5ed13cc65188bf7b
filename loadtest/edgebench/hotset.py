"""The hotset scenario (issue 21): the hot set in RAM against nginx proxy_cache and Varnish with
malloc storage, in one run. Hot 2 MB segments and hot playlists with 1 worker each, then with 2
workers each; then a long tail (many distinct segments, more than the edge's hot budget) to
show the sendfile path still serves it; and the edges' RSS against their budgets.

Every access log is on (nginx's buffered, as production runs it; Varnish writes its log to
shared memory whatever, and nobody reads it here). Server CPU is summed over each server's
process tree (a supervisor or master and its children; Varnish's manager and child)."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from loadtest.edgebench.nginx import nginx_command
from loadtest.edgebench.procs import WRK_REPORT, free_port, process_tree, tree_cpu_seconds, wrk
from loadtest.edgebench.scenarios import Rounds, hot, ratio
from loadtest.edgebench.stack import LESSON, PLAYLIST_PATH, SEGMENT_PATH, Stack
from loadtest.edgebench.varnish import varnish_command

HOT_BUDGET = "64MiB"  # the edges' hot tier: holds the hot segment, not the long tail
TAIL_OBJECTS = 192
TAIL_SIZE = 1024 * 1024  # 192 MiB of distinct segments: three times the hot budget
TAIL_PATH = f"/vod/{LESSON}/360p/tail_%04d.ts"

EDGE_HOT, EDGE_SENDFILE, NGINX, VARNISH = (
    "classcast edge, hot tier",
    "classcast edge, --hot 0 (sendfile)",
    "nginx proxy_cache",
    "Varnish malloc",
)
EDGE_HOT_2W, NGINX_2W, VARNISH_2W = (
    "classcast edge, hot tier, 2 workers",
    "nginx proxy_cache, 2 workers",
    "Varnish malloc, 2 thread pools",
)
ONE = (EDGE_HOT, EDGE_SENDFILE, NGINX, VARNISH)
TWO = (EDGE_HOT_2W, NGINX_2W, VARNISH_2W)
EDGES = (EDGE_HOT, EDGE_SENDFILE, EDGE_HOT_2W)

TAIL_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, string.format("{path}", counter % {count}))
end
"""


def start_servers(s: Stack) -> None:
    """The servers of this scenario beside the origin; Varnish is left out (said so) when
    varnishd is not installed."""
    write_tail(s.root / "content" / LESSON / "360p")
    for name, extra in (
        (EDGE_HOT, ["--hot", HOT_BUDGET]),
        (EDGE_SENDFILE, ["--hot", "0"]),
        (EDGE_HOT_2W, ["--hot", HOT_BUDGET, "--workers", "2"]),
    ):
        port = free_port()
        s.start(name, s.edge_command(port, *extra), port)
    for name, workers in ((NGINX, 1), (NGINX_2W, 2)):
        port = free_port()
        command = nginx_command(s.root, port, s.url["origin"], access_log=True, workers=workers)
        if command is None:
            raise SystemExit("edgebench: hotset needs nginx (apt-get install nginx-light)")
        s.start(name, command, port)
    origin_port = int(s.url["origin"].rpartition(":")[2])
    for name, pools in ((VARNISH, 1), (VARNISH_2W, 2)):
        port = free_port()
        command = varnish_command(s.root, port, origin_port, thread_pools=pools)
        if command is None:
            s.skipped[name] = "varnishd is not installed (apt-get install varnish)"
            continue
        s.start(name, command, port)


def write_tail(folder: Path) -> None:
    for n in range(TAIL_OBJECTS):
        (folder / f"tail_{n:04d}.ts").write_bytes(bytes([n % 256]) * TAIL_SIZE)


@dataclass
class Figures:
    segments: dict[str, Rounds]
    playlists: dict[str, Rounds]


def run_hotset(
    s: Stack, rounds: int, seconds: int, connections: int, script: Path
) -> dict[str, object]:
    for name, why in s.skipped.items():
        print(f"  skipped {name}, no figures: {why}")
    out: dict[str, object] = {"skipped": dict(s.skipped)}
    ratios: dict[str, float] = {}
    for label, names in (("1 worker each", ONE), ("2 workers each", TWO)):
        up = [n for n in names if n in s.pid]
        print(f"hot 2 MB segment, {label}: {connections} connections, {rounds} x {seconds} s")
        seg = hot([s.target(n, n, SEGMENT_PATH) for n in up], rounds, seconds, connections, script)
        print(f"hot playlist ({s.playlist_size} bytes), {label}")
        playlist_servers = [n for n in up if n != EDGE_SENDFILE]
        pl = hot(
            [s.target(n, n, PLAYLIST_PATH) for n in playlist_servers],
            rounds,
            seconds,
            connections,
            script,
        )
        out[label] = {
            "segments": [r.summary() for r in seg.values()],
            "playlists": [r.summary() for r in pl.values()],
        }
        ratios.update(hot_ratios(Figures(seg, pl), names, label))
    out["long tail"], tail_ratios = long_tail(s, rounds, seconds, connections)
    ratios.update(tail_ratios)
    out["rss"] = rss_report(s)
    print("ratios (median of per-round ratios)")
    for key, value in ratios.items():
        print(f"  {key:<70} {value:6.2f}")
    out["ratios"] = ratios
    return out


def hot_ratios(f: Figures, names: tuple[str, ...], label: str) -> dict[str, float]:
    edge, nginx, varnish = names[0], names[-2], names[-1]
    seg, pl = f.segments, f.playlists
    gb, cpu, both, per_1k = (
        "gbytes_per_s",
        "cpu_s_per_gb",
        "system_cpu_s_per_gb",
        "cpu_ms_per_1000_requests",
    )
    out: dict[str, float] = {}
    if edge in seg and nginx in seg:
        out[f"segment GB/s, edge / nginx, {label} (target >= 1.2)"] = ratio(
            seg[edge], seg[nginx], gb
        )
        out[f"segment cpu/GB server+wrk, edge / nginx, {label} (target <= 0.75)"] = ratio(
            seg[edge], seg[nginx], both
        )
        out[f"segment cpu/GB server, edge / nginx, {label}"] = ratio(seg[edge], seg[nginx], cpu)
    if EDGE_SENDFILE in seg and edge == EDGE_HOT:
        out["segment cpu/GB server+wrk, hot tier / sendfile"] = ratio(
            seg[EDGE_HOT], seg[EDGE_SENDFILE], both
        )
        out["segment GB/s, hot tier / sendfile"] = ratio(seg[EDGE_HOT], seg[EDGE_SENDFILE], gb)
    if edge in seg and varnish in seg:
        out[f"segment GB/s, edge / Varnish, {label}"] = ratio(seg[edge], seg[varnish], gb)
        out[f"segment cpu/GB server+wrk, edge / Varnish, {label}"] = ratio(
            seg[edge], seg[varnish], both
        )
    if edge in pl and nginx in pl:
        out[f"playlist cpu/1k req, edge / nginx, {label} (target <= 1.2)"] = ratio(
            pl[edge], pl[nginx], per_1k
        )
        out[f"playlist req/s, edge / nginx, {label} (target >= 0.9)"] = ratio(
            pl[edge], pl[nginx], "requests_per_s"
        )
    if edge in pl and varnish in pl:
        out[f"playlist cpu/1k req, edge / Varnish, {label} (target <= 0.8)"] = ratio(
            pl[edge], pl[varnish], per_1k
        )
        out[f"playlist req/s, edge / Varnish, {label}"] = ratio(
            pl[edge], pl[varnish], "requests_per_s"
        )
    return out


def long_tail(
    s: Stack, rounds: int, seconds: int, connections: int
) -> tuple[dict[str, object], dict[str, float]]:
    """Distinct segments asked in turn, three times the edge's hot budget: most bytes must
    still go out by sendfile, at nginx's pace, and the hot tier must not churn."""
    script = s.root / "tail.lua"
    script.write_text(TAIL_SCRIPT.format(path=TAIL_PATH, count=TAIL_OBJECTS) + WRK_REPORT)
    names = [n for n in (EDGE_HOT, NGINX) if n in s.pid]
    print(
        f"long tail: {TAIL_OBJECTS} distinct {TAIL_SIZE >> 20} MiB segments in turn,"
        f" the edge's hot budget {HOT_BUDGET}"
    )
    for name in names:  # fill every cache first: the tail is cold-ish, not a miss storm
        for n in range(TAIL_OBJECTS):
            urllib.request.urlopen(s.url[name] + TAIL_PATH % n).read()
    before = edge_gauges(s.url[EDGE_HOT])
    results = {n: Rounds(n) for n in names}
    for _ in range(rounds):
        for name in names:
            cpu = tree_cpu_seconds(s.pid[name])
            load = wrk(s.url[name] + "/", connections, seconds, script)
            results[name].add(load, tree_cpu_seconds(s.pid[name]) - cpu)
    after = edge_gauges(s.url[EDGE_HOT])
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    sent = delta.get("zero_copy_bytes", 0.0) + delta.get("hot_hits", 0.0) * TAIL_SIZE
    sendfile_share = delta.get("zero_copy_bytes", 0.0) / sent if sent else 0.0
    for r in results.values():
        print(
            f"  {r.name:<40} {r.median('requests_per_s'):>7.0f} req/s"
            f" {r.median('gbytes_per_s'):>6.3f} GB/s {r.median('cpu_s_per_gb'):>7.3f} cpu-s/GB"
            f" {r.median('system_cpu_s_per_gb'):>7.3f} +wrk cpu-s/GB  errors {r.errors}"
        )
    held_mib = after.get("hot_bytes", 0) / 2**20
    print(
        f"  edge: {sendfile_share:.0%} of the tail's bytes by sendfile; hot tier"
        f" {after.get('hot_objects', 0):.0f} objects, {held_mib:.0f} MiB; during the runs"
        f" promotions {delta.get('hot_promotions', 0):.0f},"
        f" evictions {delta.get('hot_evictions', 0):.0f}, refused {delta.get('hot_refused', 0):.0f}"
    )
    ratios = {"long tail: share of the edge's bytes sent by sendfile": sendfile_share}
    if EDGE_HOT in results and NGINX in results:
        ratios["long tail GB/s, edge / nginx"] = ratio(
            results[EDGE_HOT], results[NGINX], "gbytes_per_s"
        )
        ratios["long tail cpu/GB server+wrk, edge / nginx"] = ratio(
            results[EDGE_HOT], results[NGINX], "system_cpu_s_per_gb"
        )
    figures: dict[str, object] = {
        "servers": [r.summary() for r in results.values()],
        "edge_gauges_delta": delta,
        "sendfile_share": sendfile_share,
    }
    return figures, ratios


GAUGE = re.compile(r"^classcast_edge_([a-z_]+) (\S+)$", re.M)


def edge_gauges(url: str) -> dict[str, float]:
    """The node's summed gauges and counters from /metrics (no per-worker lines)."""
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    return {name: float(value) for name, value in GAUGE.findall(text)}


def rss_report(s: Stack) -> dict[str, dict[str, float]]:
    """Each edge's resident memory (its whole process tree) against what its tiers hold: the
    rest is the fixed overhead of the processes (interpreter, libraries, buffers)."""
    print("edge memory after the runs (RSS of the process tree)")
    report: dict[str, dict[str, float]] = {}
    for name in EDGES:
        if name not in s.pid:
            continue
        tree = process_tree(s.pid[name])
        rss = sum(_rss_bytes(pid) for pid in tree)
        gauges = edge_gauges(s.url[name])
        held = gauges.get("hot_bytes", 0.0) + gauges.get("ram_bytes", 0.0)
        report[name] = {
            "processes": len(tree),
            "rss_mib": rss / 2**20,
            "hot_mib": gauges.get("hot_bytes", 0.0) / 2**20,
            "ram_tier_mib": gauges.get("ram_bytes", 0.0) / 2**20,
            "overhead_mib": (rss - held) / 2**20,
        }
        r = report[name]
        print(
            f"  {name:<40} {r['rss_mib']:6.1f} MiB in {len(tree)} processes: hot tier"
            f" {r['hot_mib']:.1f} MiB + RAM tier {r['ram_tier_mib']:.1f} MiB"
            f" + overhead {r['overhead_mib']:.1f} MiB"
        )
    return report


def _rss_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else 0
