"""The edge of two trees side by side: hot 2 MB segments and a hot playlist, interleaved rounds.

    flock /tmp/classcast-load.lock .venv/bin/python scripts/edge_ab.py NEW_TREE BASE_TREE \
        [--rounds 5] [--seconds 5] [--connections 32]

Each edge runs from its own tree (its cwd and PYTHONPATH), with the access log off and on, in
front of one origin; wrk drives each in turn, round after round, and the figures are medians of
the per-round ratios NEW / BASE (loadtest.edgebench's pieces: server CPU from /proc over the
process tree, wrk from Debian). A base tree is a worktree of another commit:
`git worktree add /tmp/base COMMIT`. BENCHMARKS.md, "One way through the edge".
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from loadtest.edgebench.procs import WRK_REPORT, free_port, wait_ready
from loadtest.edgebench.scenarios import Target, hot, ratio
from loadtest.edgebench.stack import PLAYLIST_PATH, SEGMENT_PATH, make_library

SCENARIOS = (
    ("hot 2 MB segment", SEGMENT_PATH, ("cpu_s_per_gb", "gbytes_per_s")),
    ("hot playlist", PLAYLIST_PATH, ("cpu_ms_per_1000_requests", "requests_per_s")),
)
LOGS: tuple[tuple[str, list[str]], ...] = (("", ["--no-access-log"]), (" +log", []))


@contextmanager
def started(command: list[str], tree: Path, log: Path, ready: str) -> Iterator[int]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tree, env=env)
    try:
        wait_ready(ready, process)
        yield process.pid
    finally:
        process.terminate()
        process.wait(10)


def edge_command(port: int, origin: str, cache: Path, extra: list[str]) -> list[str]:
    return [
        *(sys.executable, "-m", "edge", "serve", "--port", str(port), "--upstream", origin),
        *("--cache-dir", str(cache), "--log-level", "warning", "--rate-per-client", "0"),
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("base", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edge-ab-"))
    script = work / "report.lua"
    script.write_text(WRK_REPORT)
    try:
        with ExitStack() as stack:
            port = free_port()
            origin = f"http://127.0.0.1:{port}"
            serve = ["origin", "serve", "--port", str(port), "--content", str(make_library(work))]
            origin_command = [sys.executable, "-m", *serve, "--schedule", "config/schedule.toml"]
            stack.enter_context(
                started(origin_command, args.new, work / "origin.log", origin + "/healthz")
            )
            edges: dict[str, tuple[int, str]] = {}
            for label, tree in (("new", args.new), ("base", args.base)):
                for suffix, extra in LOGS:
                    p = free_port()
                    url = f"http://127.0.0.1:{p}"
                    command = edge_command(p, origin, work / f"cache-{p}", extra)
                    log = work / f"edge-{p}.log"
                    pid = stack.enter_context(started(command, tree, log, url + "/healthz"))
                    edges[label + suffix] = (pid, url)
            compare(edges, args, script)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(edges: dict[str, tuple[int, str]], args: argparse.Namespace, script: Path) -> None:
    for scenario, path, figures in SCENARIOS:
        print(f"{scenario}: {args.connections} connections, {args.rounds} x {args.seconds} s")
        targets = [Target(name, pid, url + path) for name, (pid, url) in edges.items()]
        for _, url in edges.values():  # filled, then a hit, before anything is measured
            for _ in range(2):
                with urllib.request.urlopen(url + path) as answer:
                    answer.read()
        results = hot(targets, args.rounds, args.seconds, args.connections, script)
        for figure in figures:
            for suffix, _ in LOGS:
                new, base = results["new" + suffix], results["base" + suffix]
                pairs = zip(getattr(new, figure), getattr(base, figure), strict=True)
                rounds = [round(x / y, 3) for x, y in pairs]
                print(
                    f"  {figure:<26} new{suffix} / base{suffix}: "
                    f"{ratio(new, base, figure):.3f}  per round: {rounds}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
