"""The servers a bench run measures, each a separate process on loopback: the origin, edges,
the aiohttp baselines and nginx."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from loadtest.edgebench.nginx import nginx_command
from loadtest.edgebench.procs import ROOT, ServerExited, free_port, server
from loadtest.edgebench.scenarios import Target
from loadtest.edgebench.tls import EDGE_TLS, NGINX_TLS, make_certificate, nginx_tls_command

LESSON = "bench"
SEGMENT_PATH = f"/vod/{LESSON}/360p/hot_2mb.ts"
PLAYLIST_PATH = f"/vod/{LESSON}/360p/index.m3u8"
COLD_PATH = f"/vod/{LESSON}/360p/seg_00005.ts"
EDGE, EDGE_LOGGING = "classcast edge", "classcast edge, access log on"
FILE_RESPONSE, BYTES, BARE, BARE_HEADERS, NGINX, NGINX_LOGGING = (
    "aiohttp FileResponse (uvloop)",
    "aiohttp bytes from memory",
    "aiohttp bare handler, const",
    "bare handler + the edge's headers",
    "nginx proxy_cache",
    "nginx proxy_cache, access log on",
)
# the workers scenario's servers, all with their access log on
EDGE_LL_2W = "classcast edge, 2 workers, access log off"
EDGE_1W, EDGE_2W, NGINX_1W, NGINX_2W = (
    "classcast edge, 1 worker",
    "classcast edge, 2 workers",
    "nginx proxy_cache, 1 worker",
    "nginx proxy_cache, 2 workers",
)
# the viewers scenario (issue 19): the same edge with sessions and histograms on and off
VIEWERS_ON, VIEWERS_OFF = "classcast edge, viewers on", "classcast edge, viewers off"
COMPARISON_SCENARIOS = frozenset({"segments", "playlists", "cold", "llhls"})


def make_library(root: Path) -> Path:
    content = root / "content"
    shutil.copytree(ROOT / "content", content)  # the schedule names the sample lessons
    shutil.copytree(ROOT / "content" / "math-fractions", content / LESSON)
    (content / LESSON / "360p" / "hot_2mb.ts").write_bytes(os.urandom(2 * 1024 * 1024))
    return content


def set_faults(origin: str, **faults: object) -> None:
    body = {
        "latency_ms": 0,
        "error_rate": 0.0,
        "error_status": 503,
        "truncate_rate": 0.0,
        "bytes_per_second": 0,
        "path_prefix": "",
        **faults,
    }
    request = urllib.request.Request(origin + "/_faults", json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).read()


class Stack:
    """The origin and the servers the chosen scenarios measure, up until `stack` closes: two
    edges (access log off and on), the baseline server and nginx for the comparison scenarios;
    the edge and nginx with 1 and 2 workers for `workers`."""

    def __init__(self, root: Path, stack: ExitStack, scenarios: set[str]) -> None:
        self.root, self._stack = root, stack
        self.url: dict[str, str] = {}
        self.pid: dict[str, int] = {}
        self.skipped: dict[str, str] = {}  # name: why it did not start
        content = make_library(root)
        port = free_port()
        origin = [
            sys.executable,
            "-m",
            "origin",
            "serve",
            "--port",
            str(port),
            "--faults",
            "--content",
            str(content),
            "--schedule",
            "config/schedule.toml",
        ]
        self.start("origin", origin, port)
        self.playlist_size = len(urllib.request.urlopen(self.url["origin"] + PLAYLIST_PATH).read())
        if scenarios & COMPARISON_SCENARIOS:
            self._start_comparison(content)
        if "workers" in scenarios:
            self._start_workers()
        if "tls" in scenarios:
            self._start_tls()
        if "llhls" in scenarios:  # one node of two workers: the held waiters split between them
            port = free_port()
            command = self.edge_command(port, "--no-access-log", "--workers", "2")
            self.start_or_skip(EDGE_LL_2W, command, port)
        if "viewers" in scenarios:  # access log on in both, as an operator runs it
            for name, extra in ((VIEWERS_ON, []), (VIEWERS_OFF, ["--no-viewers"])):
                port = free_port()
                self.start_or_skip(name, self.edge_command(port, *extra), port)

    def start(self, name: str, command: list[str], port: int) -> None:
        self.url[name] = f"http://127.0.0.1:{port}"
        ready, log = self.url[name] + "/healthz", self.root / f"{name}.log"
        self.pid[name] = self._stack.enter_context(server(command, ready, log))

    def start_or_skip(self, name: str, command: list[str], port: int) -> None:
        """Start a server this version of it may not support, or say why it is left out."""
        try:
            self.start(name, command, port)
        except ServerExited as exited:
            del self.url[name]
            lines = (self.root / f"{name}.log").read_text(errors="replace").splitlines()
            self.skipped[name] = f"exit status {exited.status}: {lines[-1] if lines else ''}"

    def edge_command(self, port: int, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "edge",
            "serve",
            "--port",
            str(port),
            "--upstream",
            self.url["origin"],
            "--cache-dir",
            str(self.root / f"cache-{port}"),
            "--log-level",
            "warning",
            "--rate-per-client",
            "0",
            "--max-conns-per-client",
            "0",  # llhls: a thousand viewers from one loopback address
            *extra,
        ]

    def target(self, label: str, server_name: str, path: str) -> Target:
        return Target(label, self.pid[server_name], self.url[server_name] + path)

    def _start_comparison(self, content: Path) -> None:
        for name, extra in ((EDGE, ["--no-access-log"]), (EDGE_LOGGING, [])):
            port = free_port()
            self.start(name, self.edge_command(port, *extra), port)
        port = free_port()
        self.start(
            "baseline",
            [
                sys.executable,
                "-m",
                "loadtest.baseline_server",
                "--port",
                str(port),
                "--file",
                str(content / LESSON / "360p" / "hot_2mb.ts"),
                "--const-size",
                str(self.playlist_size),
            ],
            port,
        )
        for name, logging in ((NGINX, False), (NGINX_LOGGING, True)):
            port = free_port()
            nginx = nginx_command(self.root, port, self.url["origin"], access_log=logging)
            if nginx is not None:
                self.start(name, nginx, port)

    def _start_workers(self) -> None:
        # an edge that predates --workers exits with status 2 (unknown flag): left out, no figures
        for name, workers in ((EDGE_1W, 1), (EDGE_2W, 2)):
            port = free_port()
            self.start_or_skip(name, self.edge_command(port, "--workers", str(workers)), port)
        for name, workers in ((NGINX_1W, 1), (NGINX_2W, 2)):
            port = free_port()
            nginx = nginx_command(
                self.root, port, self.url["origin"], access_log=True, workers=workers
            )
            if nginx is not None:
                self.start(name, nginx, port)

    def _start_tls(self) -> None:
        """The edge (one process) and nginx (one worker), each with HTTPS beside HTTP."""
        certificate = make_certificate(self.root)
        files = ["--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key)]
        for name in (EDGE_TLS, NGINX_TLS):
            port, tls_port = free_port(), free_port()
            if name == EDGE_TLS:
                command: list[str] | None = self.edge_command(
                    port, "--no-access-log", "--tls-port", str(tls_port), *files
                )
            else:
                command = nginx_tls_command(
                    self.root, port, tls_port, self.url["origin"], certificate
                )
            if command is not None:
                self.start(name, command, port)
                self.url[name] = f"https://127.0.0.1:{tls_port}"
