"""Capacity planning: edges, shields, cache size and origin request rate, with the arithmetic.

Pure arithmetic on the operator's figures; `--core-gbps` should come from a measured run (see
BENCHMARKS.md), not from hope. Phones are planned at the top rung: the worst case for egress.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from loadtest.config import Mix, parse_mix
from loadtest.errors import ConfigError

# RFC 8216 section 6.3.4: a viewer reloads once or twice per target duration.
PLAYLIST_LOADS_PER_SEGMENT = 1.5
# DESIGN.md freshness policy: a live playlist is fresh for half a target duration.
SHIELD_REFRESHES_PER_SEGMENT = 2.0


@dataclass(frozen=True, slots=True)
class PlanInput:
    viewers: int
    ladder_kbps: tuple[float, ...]
    mix: Mix
    stb_kbps: float
    segment_s: float
    channels: int
    window_segments: int
    vod_hours: float
    edge_gbps: float
    edge_cores: int
    core_gbps: float
    edge_connections: int
    headroom: float
    edges_per_shield: int
    spare_edges: int


def plan(given: PlanInput) -> list[str]:
    shares = dict(given.mix)
    stb, phone = given.viewers * shares.get("stb", 0.0), given.viewers * shares.get("phone", 0.0)
    top = max(given.ladder_kbps)
    ladder_sum = sum(given.ladder_kbps)
    egress = (stb * given.stb_kbps + phone * top) / 1e6
    per_edge = given.headroom * min(given.edge_gbps, given.edge_cores * given.core_gbps)
    by_bandwidth = math.ceil(egress / per_edge)
    by_connections = math.ceil(given.viewers / (given.headroom * given.edge_connections))
    edges = max(by_bandwidth, by_connections, 1) + given.spare_edges
    shields = math.ceil(edges / given.edges_per_shield) if edges > 1 else 0
    fetchers = max(shields, 1) if shields else edges
    live_mb = given.channels * ladder_sum * (given.window_segments + 2) * given.segment_s / 8 / 1e3
    vod_gb = given.vod_hours * 3600 * ladder_sum / 8 / 1e6
    renditions = len(given.ladder_kbps)
    segments_per_s = fetchers * given.channels * renditions / given.segment_s
    playlists_per_s = segments_per_s * SHIELD_REFRESHES_PER_SEGMENT
    origin_gbps = fetchers * given.channels * ladder_sum / 1e6
    edge_rps = given.viewers * (1 + PLAYLIST_LOADS_PER_SEGMENT) / given.segment_s
    who = "shields" if shields else "edges (no shield tier)"
    return [
        f"viewers: {given.viewers} = {stb:.0f} set-top boxes at {given.stb_kbps:.0f} kbit/s"
        f" + {phone:.0f} phones at {top:.0f} kbit/s (top rung, worst case)",
        f"egress: ({stb:.0f} x {given.stb_kbps:.0f} + {phone:.0f} x {top:.0f}) kbit/s"
        f" = {egress:.2f} Gbit/s",
        f"per edge: {given.headroom:.0%} x min(NIC {given.edge_gbps:g}, {given.edge_cores} cores"
        f" x {given.core_gbps:g}) Gbit/s = {per_edge:.2f} Gbit/s",
        f"edges by bandwidth: ceil({egress:.2f} / {per_edge:.2f}) = {by_bandwidth}",
        f"edges by connections: ceil({given.viewers} / ({given.headroom:.0%} x"
        f" {given.edge_connections})) = {by_connections}",
        f"EDGES: max({by_bandwidth}, {by_connections}) + {given.spare_edges} spare = {edges}",
        f"SHIELDS: ceil({edges} / {given.edges_per_shield} edges per shield) = {shields}"
        + (" (one edge needs no shield tier)" if edges <= 1 else ""),
        f"edge requests: {given.viewers} x (1 segment + {PLAYLIST_LOADS_PER_SEGMENT} playlists)"
        f" / {given.segment_s:g} s = {edge_rps:.0f} req/s",
        f"CACHE per edge: live {given.channels} ch x {ladder_sum:.0f} kbit/s x"
        f" ({given.window_segments}+2) segments x {given.segment_s:g} s = {live_mb:.1f} MB"
        f"; VOD {given.vod_hours:g} h x {ladder_sum:.0f} kbit/s = {vod_gb:.2f} GB"
        f"; total {live_mb / 1e3 + vod_gb:.2f} GB",
        f"ORIGIN segments: {fetchers} {who} x {given.channels} ch x {renditions} renditions"
        f" / {given.segment_s:g} s = {segments_per_s:.2f} req/s",
        f"ORIGIN playlists: {segments_per_s:.2f} x {SHIELD_REFRESHES_PER_SEGMENT:g} refreshes"
        f" = {playlists_per_s:.2f} req/s"
        f"; total {segments_per_s + playlists_per_s:.2f} req/s, {origin_gbps:.3f} Gbit/s",
        "origin load does not grow with viewers: it scales with shields x channels x renditions",
    ]


def plan_from_args(args: argparse.Namespace) -> str:
    try:
        ladder = tuple(sorted(float(value) for value in args.ladder.split(",")))
    except ValueError:
        raise ConfigError(
            f"ladder: expected kbit/s values like 300,560,1500: {args.ladder!r}"
        ) from None
    if args.viewers <= 0 or not ladder or min(ladder) <= 0:
        raise ConfigError("plan: viewers and ladder rungs must be positive")
    if args.segment_duration <= 0 or not 0 < args.headroom <= 1 or args.edges_per_shield < 1:
        raise ConfigError("plan: segment duration > 0, headroom within 0..1, edges per shield >= 1")
    given = PlanInput(
        args.viewers, ladder, parse_mix(args.mix), _stb_rung(args.stb_rendition, ladder),
        args.segment_duration, args.channels, args.window_segments, args.vod_hours, args.edge_gbps,
        args.edge_cores, args.core_gbps, args.edge_connections, args.headroom,
        args.edges_per_shield, args.spare_edges,
    )  # fmt: skip
    return "\n".join(plan(given))


def _stb_rung(choice: str, ladder: tuple[float, ...]) -> float:
    if choice == "lowest":
        return ladder[0]
    if choice == "highest":
        return ladder[-1]
    try:
        return float(choice)
    except ValueError:
        raise ConfigError(f"stb-rendition: lowest, highest or kbit/s, got {choice!r}") from None
