"""Server processes, their CPU time from /proc, and wrk as the load generator."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.bytes,
    summary.duration, summary.errors.status + summary.errors.read + summary.errors.connect))
end
"""


@dataclass(frozen=True)
class Load:
    requests: int
    bytes: int
    seconds: float
    errors: int
    client_cpu: float = 0.0  # wrk's own CPU seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and all its threads (proc(5), fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"edgebench: a server exited at start-up: {process.args!r}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"edgebench: {url} not ready in 20 s")


@contextmanager
def server(command: list[str], ready_url: str, log: Path) -> Iterator[int]:
    """Run a server process until the block ends; yields its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_ready(ready_url, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, connections: int, seconds: int, script: Path) -> Load:
    """One wrk thread: the other core is left to the server under test."""
    before = _children_cpu()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, size, micros, errors = (int(v) for v in line.split()[1:])
    return Load(requests, size, micros / 1e6, errors, _children_cpu() - before)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
