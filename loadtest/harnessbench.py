"""`python -m loadtest.harnessbench`: what the harness costs, against wrk, in the same run.

Against one `loadtest/bench_target.py` serving a sample lesson (`--lesson`), in turn:

1. bytes: wrk (one thread) and the harness's transport fetch the lesson's highest-rendition
   segment over the same number of keep-alive connections for the same time, back to back;
   CPU seconds per GB of body received, harness over wrk;
2. requests: the same with the master playlist (a few hundred bytes; the harness keeps the body,
   as it does for every playlist); CPU seconds per request, harness over wrk;
3. viewers: `python -m loadtest run` with real-time set-top boxes on the lowest, then the
   highest rendition; viewers per core of the harness process in the steady state, and whether
   it was generator-bound (loop lag p99 at or over `LAG_LIMIT_S`).

wrk's CPU is its rusage (`wait4`); the harness's is measured inside its process over the load
window only (interpreter start-up excluded). Wrap it in `flock /tmp/classcast-load.lock`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from loadtest.edgebench.procs import ROOT, WRK_REPORT, free_port, server
from loadtest.errors import TransportError
from loadtest.metrics import Recorder, RequestRecord
from loadtest.models.actions import RequestKind
from loadtest.selfcheck import cpu_seconds
from loadtest.transport import HttpClient

LAG_LIMIT_S = 0.05
SETTLE_S = 5.0  # timeline slices after the ramp plus this are the steady state


@dataclass(frozen=True)
class Cost:
    requests: int
    body_bytes: int
    cpu_s: float

    @property
    def per_gb(self) -> float:
        return self.cpu_s / (self.body_bytes / 1e9) if self.body_bytes else float("inf")

    @property
    def per_request_us(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("inf")


# -- the harness side: closed-loop lanes over the viewer transport (child process) ------------


async def closed_loop(url: str, connections: int, seconds: float, keep_body: bool) -> Cost:
    """`connections` lanes, each on its own keep-alive connection, GET `url` back to back and
    record every answer as the runner does."""
    clock = time.monotonic
    client = HttpClient(clock, read_timeout_s=10.0)
    recorder = Recorder()
    deadline = clock() + seconds

    kind: RequestKind = "playlist" if keep_body else "segment"

    async def lane() -> None:
        viewer = client.connections()
        try:
            while clock() < deadline:
                started = clock()
                try:
                    got = await viewer.get(url, keep_body)
                except TransportError:
                    recorder.record_request(RequestRecord(kind, "bench", url, 0, 0, 0, 0, 0, ""))
                    continue
                finished = clock()
                recorder.record_request(
                    RequestRecord(
                        kind,
                        "bench",
                        url,
                        got.status,
                        started,
                        got.first_byte - started,
                        finished - started,
                        got.size,
                        got.cache,
                    )
                )
        finally:
            viewer.close()

    cpu_before = cpu_seconds()
    await asyncio.gather(*(lane() for _ in range(connections)))
    cpu = cpu_seconds() - cpu_before
    await client.close()
    stats = next(iter(recorder.stats.requests.values()))
    return Cost(stats.count - stats.failures, stats.bytes, cpu)


def harness_cost(url: str, connections: int, seconds: float, keep_body: bool) -> Cost:
    command = [
        sys.executable,
        "-m",
        "loadtest.harnessbench",
        "--child",
        url,
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
    ]
    if keep_body:
        command.append("--keep-body")
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=ROOT, timeout=seconds + 60
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Cost(data["requests"], data["body_bytes"], data["cpu_s"])


# -- wrk ------------------------------------------------------------------------------------


def wrk_cost(url: str, connections: int, seconds: float, body_size: int, script: Path) -> Cost:
    """wrk with one thread; its CPU from the kernel's rusage of the finished process."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), url]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    line = next((x for x in text.splitlines() if x.startswith("RESULT")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"harnessbench: wrk failed:\n{text}")
    requests, _, _, errors = (int(v) for v in line.split()[1:])
    if errors:
        raise SystemExit(f"harnessbench: wrk saw {errors} errors")
    return Cost(requests, requests * body_size, usage.ru_utime + usage.ru_stime)


# -- real-time viewers through `python -m loadtest run` ---------------------------------------


@dataclass(frozen=True)
class Viewers:
    rendition: str
    viewers: int
    cpu_cores: float  # steady state
    lag_p99_s: float
    rebuffers: int
    start_failures: int
    mbit_per_s: float

    @property
    def per_core(self) -> float:
        return self.viewers / self.cpu_cores if self.cpu_cores else float("inf")

    @property
    def bound(self) -> bool:
        return self.lag_p99_s >= LAG_LIMIT_S


def viewer_run(target: str, rendition: str, viewers: int, duration: float, ramp: float) -> Viewers:
    with tempfile.TemporaryDirectory(prefix="harnessbench-") as directory:
        command = [
            sys.executable,
            "-m",
            "loadtest",
            "run",
            "--target",
            target,
            "--viewers",
            str(viewers),
            "--duration",
            str(duration),
            "--ramp",
            str(ramp),
            "--mix",
            "stb=1",
            "--rendition",
            rendition,
            "--report",
            directory,
            "--no-progress",
        ]
        subprocess.run(command, cwd=ROOT, check=False, capture_output=True, timeout=duration + 120)
        summary: dict[str, Any] = json.loads((Path(directory) / "summary.json").read_text())
    steady = [row for row in summary["timeline"] if row["t"] > ramp + SETTLE_S]
    cohort = summary["cohorts"]["stb"]
    lag = summary["overall"]["loop_lag"]["p99"]
    return Viewers(
        rendition,
        viewers,
        sum(row["cpu"] for row in steady) / len(steady),
        lag,
        cohort["rebuffers"],
        cohort["start_failures"],
        sum(row["mbit_per_s"] for row in steady) / len(steady),
    )


# -- the benchmark ----------------------------------------------------------------------------


def lesson_objects(lesson: Path) -> tuple[str, str, int]:
    """(highest rendition's name, lowest's, bytes of the highest's segment 1)."""
    text = (lesson / "master.m3u8").read_text()
    ladder = sorted(
        (int(bandwidth), name)
        for bandwidth, name in re.findall(r"BANDWIDTH=(\d+).*\n([^/\n]+)/index\.m3u8", text)
    )
    lowest, highest = ladder[0][1], ladder[-1][1]
    segments = sorted((lesson / highest).glob("*.ts"))
    return highest, lowest, segments[1].stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.harnessbench")
    parser.add_argument("--lesson", type=Path, default=ROOT / "content" / "math-fractions")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk/harness phase")
    parser.add_argument("--viewers-lowest", type=int, default=10_000)
    parser.add_argument("--viewers-highest", type=int, default=5_000)
    parser.add_argument("--viewer-duration", type=float, default=60.0)
    parser.add_argument("--ramp", type=float, default=20.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--keep-body", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cost = uvloop.run(closed_loop(args.child, args.connections, args.seconds, args.keep_body))
        print(json.dumps(cost.__dict__))
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    highest, lowest, segment_size = lesson_objects(args.lesson)
    port = free_port()
    base = f"http://127.0.0.1:{port}/live/bench"
    with tempfile.TemporaryDirectory(prefix="harnessbench-") as directory:
        script = Path(directory) / "report.lua"
        script.write_text(WRK_REPORT)
        command = [
            sys.executable,
            "-m",
            "loadtest.bench_target",
            "--port",
            str(port),
            "--lesson",
            str(args.lesson),
        ]
        with server(command, base + "/master.m3u8", Path(directory) / "target.log"):
            with urllib.request.urlopen(base + "/master.m3u8") as answer:
                master_size = len(answer.read())
            segment = f"{base}/{highest}/seg_1.ts"
            rows = []
            for name, url, size, keep in (
                ("bytes", segment, segment_size, False),
                ("requests", base + "/master.m3u8", master_size, True),
            ):
                wrk = wrk_cost(url, args.connections, args.seconds, size, script)
                ours = harness_cost(url, args.connections, args.seconds, keep)
                rows.append((name, url, wrk, ours))
            viewers = [
                viewer_run(
                    base + "/master.m3u8",
                    "lowest",
                    args.viewers_lowest,
                    args.viewer_duration,
                    args.ramp,
                ),
                viewer_run(
                    base + "/master.m3u8",
                    "highest",
                    args.viewers_highest,
                    args.viewer_duration,
                    args.ramp,
                ),
            ]
    print_results(args, rows, viewers, (lowest, highest))


def print_results(
    args: argparse.Namespace,
    rows: list[tuple[str, str, Cost, Cost]],
    viewers: list[Viewers],
    names: tuple[str, str],
) -> None:
    print(f"harnessbench: {args.connections} keep-alive connections, {args.seconds:g} s a phase")
    print(
        f"{'phase':<9} {'who':<8} {'requests':>9} {'GB':>7} {'CPU s':>7} "
        f"{'CPU s/GB':>9} {'CPU us/req':>10}"
    )
    for name, _, wrk, ours in rows:
        for who, cost in (("wrk", wrk), ("harness", ours)):
            gigabytes = cost.body_bytes / 1e9
            print(
                f"{name:<9} {who:<8} {cost.requests:>9} {gigabytes:>7.2f} {cost.cpu_s:>7.2f} "
                f"{cost.per_gb:>9.2f} {cost.per_request_us:>10.1f}"
            )
    (_, _, wrk_b, ours_b), (_, _, wrk_r, ours_r) = rows
    print(
        f"harness / wrk: CPU per GB {ours_b.per_gb / wrk_b.per_gb:.2f}x (target <= 2x), "
        f"CPU per request {ours_r.per_request_us / wrk_r.per_request_us:.2f}x "
        "(target <= 3x)"
    )
    for run, name in zip(viewers, names, strict=True):
        verdict = "GENERATOR-BOUND" if run.bound else "not generator-bound"
        print(
            f"viewers, {run.rendition} rendition ({name}): {run.viewers} STBs, "
            f"{run.cpu_cores:.3f} core steady, {run.mbit_per_s:.0f} Mbit/s, loop lag p99 "
            f"{run.lag_p99_s * 1e3:.1f} ms ({verdict}), rebuffers {run.rebuffers}, start "
            f"failures {run.start_failures}: {run.per_core:,.0f} viewers per core"
        )


if __name__ == "__main__":
    main()
