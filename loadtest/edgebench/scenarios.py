"""The three measurements. Hot scenarios run in interleaved rounds: every server gets one wrk
run per round, so a burst of noise on this shared machine hits all of them alike, and each
ratio is the median of its per-round ratios."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from loadtest.edgebench.procs import Load, tree_cpu_seconds, wrk


@dataclass(frozen=True)
class Target:
    name: str
    pid: int
    url: str


@dataclass
class Rounds:
    """Per-round figures of one server."""

    name: str
    requests_per_s: list[float] = field(default_factory=list)
    gbytes_per_s: list[float] = field(default_factory=list)
    cpu_s_per_gb: list[float] = field(default_factory=list)
    cpu_ms_per_1000_requests: list[float] = field(default_factory=list)
    # server + load generator: on loopback the kernel's TCP work can be charged to either
    # side (a corked sender pays for the push, an uncorked one leaves part to the receiver)
    system_cpu_s_per_gb: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, load: Load, cpu: float) -> None:
        gb = load.bytes / 1e9
        self.requests_per_s.append(load.requests / load.seconds)
        self.gbytes_per_s.append(gb / load.seconds)
        self.cpu_s_per_gb.append(cpu / gb)
        self.cpu_ms_per_1000_requests.append(1e6 * cpu / load.requests)
        self.system_cpu_s_per_gb.append((cpu + load.client_cpu) / gb)
        self.errors += load.errors

    def median(self, figure: str) -> float:
        return float(statistics.median(getattr(self, figure)))

    def summary(self) -> dict[str, object]:
        figures = (
            "requests_per_s",
            "gbytes_per_s",
            "cpu_s_per_gb",
            "cpu_ms_per_1000_requests",
            "system_cpu_s_per_gb",
        )
        medians: dict[str, object] = {f: self.median(f) for f in figures}
        return {"server": self.name, "errors": self.errors, **medians}


def ratio(a: Rounds, b: Rounds, figure: str) -> float:
    pairs = zip(getattr(a, figure), getattr(b, figure), strict=True)
    return float(statistics.median(x / y for x, y in pairs))


def hot(
    targets: list[Target], rounds: int, seconds: int, connections: int, script: Path
) -> dict[str, Rounds]:
    for target in targets:  # warm caches, connection paths and CPU frequency
        wrk(target.url, connections, 1, script)
    results = {t.name: Rounds(t.name) for t in targets}
    for _ in range(rounds):
        for target in targets:
            before = tree_cpu_seconds(target.pid)  # one process, or a master and its workers
            load = wrk(target.url, connections, seconds, script)
            results[target.name].add(load, tree_cpu_seconds(target.pid) - before)
    for r in results.values():
        print(
            f"  {r.name:<34} {r.median('requests_per_s'):>8.0f} req/s"
            f" {r.median('gbytes_per_s'):>7.3f} GB/s {r.median('cpu_s_per_gb'):>8.3f} cpu-s/GB"
            f" {r.median('cpu_ms_per_1000_requests'):>7.1f} cpu-ms/1k req"
            f" {r.median('system_cpu_s_per_gb'):>7.3f} +wrk cpu-s/GB  errors {r.errors}",
            flush=True,
        )
    return results


async def cold_misses(edge: str, origin: str, path: str, waiters: int) -> dict[str, float]:
    """`waiters` concurrent requests for one cold object behind a slow origin."""
    started = time.monotonic()

    async def one(session: aiohttp.ClientSession) -> tuple[str, float, float]:
        async with session.get(edge + path) as response:
            await response.content.readany()
            ttfb = time.monotonic() - started
            await response.read()
            return response.headers["X-Cache"], ttfb, time.monotonic() - started

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.gather(*(one(session) for _ in range(waiters)))
        async with session.get(origin + "/_stats") as response:
            fetches = (await response.json())["requests"].get(path, 0)
    first = next(ttfb for label, ttfb, _ in results if label == "MISS")
    joined = sorted(ttfb for label, ttfb, _ in results if label != "MISS")
    return {
        "requests": len(results),
        "upstream_fetches": fetches,
        "first_ttfb_s": first,
        "waiter_ttfb_p50_s": statistics.median(joined),
        "waiter_ttfb_p99_s": joined[max(0, int(len(joined) * 0.99) - 1)],
        "fill_complete_s": max(total for *_, total in results),
    }
