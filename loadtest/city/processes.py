"""The city's processes: real `python -m origin|edge|loadtest` and `prometheus`, each started in
its host's namespace with `ip netns exec` (which execs, so the pid is the service's own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from loadtest.city.inside import NamespaceHttp
from loadtest.errors import LoadtestError

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 30.0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """User + system CPU so far, from /proc/<pid>/stat (0 once it has exited)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICKS

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def terminate(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)

    def wait_until(self, deadline: float) -> None:
        try:
            self.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str, namespace: str, command: list[str], logs: Path, env: dict[str, str] | None = None
) -> Process:
    log = logs / f"{name}.log"
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with log.open("wb") as out:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=environment,
            start_new_session=True,  # a Ctrl-C reaches us, not them
        )
    return Process(name, popen, log)


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def wait_ready(process: Process, http: NamespaceHttp, url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.alive():
            raise LoadtestError(f"{process.name} exited at start:\n{process.tail()}")
        if http.try_get(url) is not None:
            return
        time.sleep(0.1)
    raise LoadtestError(f"{process.name} not ready in {READY_TIMEOUT_S:.0f} s:\n{process.tail()}")
