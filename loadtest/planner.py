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

# Calibrated defaults; each says where its figure comes from (`python -m loadtest city` measures
# the first three on a real topology and compares this plan with what it measured).
# RFC 8216 section 6.3.4: a player reloads a live playlist once per target duration while it
# changes; measured by `python -m loadtest city`: 0.92 playlist loads per segment.
PLAYLIST_LOADS_PER_SEGMENT = 1.0
# DESIGN.md freshness policy: a live playlist is fresh for half a target duration, so its one
# shield fetches it about twice per segment (the city measured 19 refreshes in 40 s: 1.9).
SHIELD_REFRESHES_PER_SEGMENT = 2.0
# BENCHMARKS.md, "Scale through the harness": one edge process served 5,000 live viewers,
# 1.7 Gbit/s, at 0.32 core: 5.3 Gbit/s per core; planned at 5.
CORE_GBPS = 5.0


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
    edges: int | None = None  # given counts win over the computed ones
    shields: int | None = None
    renditions_watched: int | None = None  # None: the set-top boxes' rung and the top rung


@dataclass(frozen=True, slots=True)
class Plan:
    egress_gbps: float
    edges: int
    shields: int
    edge_rps: float
    origin_segments_per_s: float
    origin_playlists_per_s: float
    lines: tuple[str, ...]

    @property
    def origin_rps(self) -> float:
        return self.origin_segments_per_s + self.origin_playlists_per_s


def plan(given: PlanInput) -> list[str]:
    return list(compute(given).lines)


def compute(given: PlanInput) -> Plan:
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
    edges_note = f" + {given.spare_edges} spare"
    if given.edges is not None:
        edges, edges_note = given.edges, " (given)"
    if given.shields is not None:
        shields = given.shields
    # With shields, rendezvous hashing gives each object one shield: the origin sees each
    # object once, however many shields (measured: `python -m loadtest city`). Without them,
    # every edge fetches every object.
    fetchers = 1 if shields else edges
    live_mb = given.channels * ladder_sum * (given.window_segments + 2) * given.segment_s / 8 / 1e3
    vod_gb = given.vod_hours * 3600 * ladder_sum / 8 / 1e6
    # Renditions pulled through the shields: those someone is watching. By this plan's own
    # assumptions that is the set-top boxes' rung and the phones' top rung (phones start low and
    # climb within a few segments: measured by `python -m loadtest city`).
    in_use = len({given.stb_kbps, top})
    renditions = given.renditions_watched or in_use
    segments_per_s = fetchers * given.channels * renditions / given.segment_s
    # Master playlists are asked for only when viewers join, so they are left out of the
    # steady state (the city measured none in it).
    playlists_per_s = segments_per_s * SHIELD_REFRESHES_PER_SEGMENT
    origin_gbps = fetchers * given.channels * ladder_sum / 1e6
    edge_rps = given.viewers * (1 + PLAYLIST_LOADS_PER_SEGMENT) / given.segment_s
    who = "fetch per object (rendezvous: one shield each)" if shields else "edges (no shields)"
    lines = [
        f"viewers: {given.viewers} = {stb:.0f} set-top boxes at {given.stb_kbps:.0f} kbit/s"
        f" + {phone:.0f} phones at {top:.0f} kbit/s (top rung, worst case)",
        f"egress: ({stb:.0f} x {given.stb_kbps:.0f} + {phone:.0f} x {top:.0f}) kbit/s"
        f" = {egress:.2f} Gbit/s",
        f"per edge: {given.headroom:.0%} x min(NIC {given.edge_gbps:g}, {given.edge_cores} cores"
        f" x {given.core_gbps:g}) Gbit/s = {per_edge:.2f} Gbit/s",
        f"edges by bandwidth: ceil({egress:.2f} / {per_edge:.2f}) = {by_bandwidth}",
        f"edges by connections: ceil({given.viewers} / ({given.headroom:.0%} x"
        f" {given.edge_connections})) = {by_connections}",
        f"EDGES: max({by_bandwidth}, {by_connections}){edges_note} = {edges}",
        (
            f"SHIELDS: {shields} (given)"
            if given.shields is not None
            else f"SHIELDS: ceil({edges} / {given.edges_per_shield} edges per shield) = {shields}"
            + (" (one edge needs no shield tier)" if edges <= 1 else "")
        ),
        f"edge requests: {given.viewers} x (1 segment + {PLAYLIST_LOADS_PER_SEGMENT} playlists)"
        f" / {given.segment_s:g} s = {edge_rps:.0f} req/s",
        f"CACHE per edge: live {given.channels} ch x {ladder_sum:.0f} kbit/s x"
        f" ({given.window_segments}+2) segments x {given.segment_s:g} s = {live_mb:.1f} MB"
        f"; VOD {given.vod_hours:g} h x {ladder_sum:.0f} kbit/s = {vod_gb:.2f} GB"
        f"; total {live_mb / 1e3 + vod_gb:.2f} GB",
        f"ORIGIN segments: {fetchers} {who} x {given.channels} ch x {renditions} renditions"
        f" {'(given)' if given.renditions_watched else 'in use (set-top + top rung)'}"
        f" / {given.segment_s:g} s = {segments_per_s:.2f} req/s",
        f"ORIGIN playlists: {segments_per_s:.2f} x {SHIELD_REFRESHES_PER_SEGMENT:g} refreshes"
        f" = {playlists_per_s:.2f} req/s"
        f"; total {segments_per_s + playlists_per_s:.2f} req/s, {origin_gbps:.3f} Gbit/s",
        "origin load does not grow with viewers: it scales with channels x renditions"
        + (" (x edges without a shield tier)" if not shields else ""),
    ]
    return Plan(egress, edges, shields, edge_rps, segments_per_s, playlists_per_s, tuple(lines))


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
        args.viewers,
        ladder,
        parse_mix(args.mix),
        _stb_rung(args.stb_rendition, ladder),
        args.segment_duration,
        args.channels,
        args.window_segments,
        args.vod_hours,
        args.edge_gbps,
        args.edge_cores,
        args.core_gbps,
        args.edge_connections,
        args.headroom,
        args.edges_per_shield,
        args.spare_edges,
        args.edges,
        args.shields,
        args.renditions_watched,
    )
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
