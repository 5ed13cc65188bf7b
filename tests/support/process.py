"""Start classcast services as real processes on loopback, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.wait import until_sync

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 20.0
# The origin on the bundled sample library and the shipped timetable, as `./scripts/run` starts it.
SAMPLE_ORIGIN = [
    "--content",
    str(ROOT / "content"),
    "--schedule",
    str(ROOT / "config/schedule.toml"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{log_path.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url + "/healthz", timeout=1) as answer,
        ):
            return bool(answer.status == 200)
        return False

    try:
        until_sync(ready, READY_TIMEOUT_S, f"service at {url} ready", every=0.05)
    except AssertionError as error:
        raise RuntimeError(f"{error}:\n{log_path.read_text()}") from None


@contextlib.contextmanager
def run_service(
    module: str, args: list[str], log_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[Service]:
    """Run `python -m <module> serve --host 127.0.0.1 --port <free> <args>` until the block ends,
    with `env` added to this process's environment."""
    port = free_port()
    command = [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command + args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log_path)
        yield Service(process, url, log_path)
    finally:
        stop(process)


@contextlib.contextmanager
def origin_and_edge(
    logs: Path, edge_args: list[str] | None = None, edge_env: Mapping[str, str] | None = None
) -> Iterator[tuple[Service, Service]]:
    """The sample origin and an edge in front of it, logging into `logs`. The edge caches in
    `logs/cache` unless `edge_args` names a --cache-dir."""
    edge_args = list(edge_args or [])
    if "--cache-dir" not in edge_args:
        edge_args += ["--cache-dir", str(logs / "cache")]
    with (
        run_service("origin", SAMPLE_ORIGIN, logs / "origin.log") as origin,
        run_service(
            "edge", ["--upstream", origin.url, *edge_args], logs / "edge.log", edge_env
        ) as edge,
    ):
        yield origin, edge


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
