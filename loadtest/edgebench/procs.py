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


class ServerExited(SystemExit):
    """A server died before it was ready. A SystemExit, so a bench that needs the server stops
    with this one line; a scenario that can do without it catches it."""

    def __init__(self, command: object, status: int) -> None:
        super().__init__(f"edgebench: a server exited at start-up (status {status}): {command!r}")
        self.status = status


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and all its threads (proc(5), fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants: a supervisor or master and its workers.

    Each process counts its own time and its reaped children's (proc(5), fields 14 to 17), so a
    worker that exits and is reaped between two readings still has its time counted, by its
    parent. For a process with no children the difference of two readings is cpu_seconds's."""
    stats = _all_processes()
    return sum(stats[p][1] for p in _tree(pid, stats))


def process_tree(pid: int) -> list[int]:
    """pid and its descendants, found through the parent pid of every process."""
    return _tree(pid, _all_processes())


def _tree(pid: int, stats: dict[int, tuple[int, float]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    tree: list[int] = []
    todo = [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def _all_processes() -> dict[int, tuple[int, float]]:
    """pid: (parent pid, CPU seconds of it and its reaped children), from /proc/*/stat.

    A scan rather than /proc/<pid>/task/<tid>/children, which needs CONFIG_PROC_CHILDREN."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        stats[int(path.parent.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return stats


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerExited(process.args, process.returncode)
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
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, size, micros, errors = (int(v) for v in line.split()[1:])
    return Load(requests, size, micros / 1e6, errors, _children_cpu() - before)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
