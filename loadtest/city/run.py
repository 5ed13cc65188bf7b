"""One city run: build the namespaces, start the tiers and the viewers, watch, kill a shield if
asked, collect, and always tear everything down (Ctrl-C, SIGTERM and crashes included)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from loadtest.city import analysis, netns, pki, prom
from loadtest.city.inside import NamespaceHttp
from loadtest.city.processes import ROOT, Process, python, start, wait_ready
from loadtest.city.settings import CitySettings
from loadtest.city.topology import TLS_PORT, City, Host, build_city, viewer_groups
from loadtest.errors import LoadtestError

Say = Callable[[str], None]
CONTROL_PATHS = frozenset({"/_stats", "/_stats/reset", "/healthz", "/readyz", "/metrics"})
HARNESS_GRACE_S = 60.0
COUNTERS = ("requests", "hits", "bytes_sent", "upstream_errors", "prefetches", "tls_connections")
STOP_TIMEOUT_S = 8.0  # the harness's own start-up and drain, beyond --duration


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwind like Ctrl-C so that every `finally` tears down."""


@contextlib.contextmanager
def unwinding_signals() -> Iterator[None]:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class CityRun:
    def __init__(self, settings: CitySettings, say: Say) -> None:
        self.settings = settings
        self.say = say
        self.city: City = build_city(
            netns.run_prefix(), settings.shields, settings.edges, settings.viewer_hosts
        )
        self.work = Path(tempfile.mkdtemp(prefix="classcast-city-"))
        self.logs = settings.report_dir / "logs"
        self.services: dict[str, Process] = {}
        self.viewers: dict[str, Process] = {}
        self.http: NamespaceHttp | None = None
        self.last: dict[str, dict[str, float]] = {}  # host -> last counters read
        self.cpu: dict[str, float] = {}  # process -> CPU seconds when last seen alive
        self.timeline: list[dict[str, Any]] = []
        self.netem = False
        self.killed_at: float | None = None
        self.origin_at_kill: dict[str, int] = {}
        self.started = 0.0
        self.started_wall = 0.0

    # -- building ----------------------------------------------------------------------------
    def build(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        removed = netns.clean_stale()
        if removed:
            self.say(f"removed {len(removed)} namespaces left by a crashed run")
        self.netem = netns.create(self.city, self.settings.access)
        self.http = NamespaceHttp(self.city.ops.namespace)
        self.say(
            f"city: 1 origin, {len(self.city.shields)} shields, {len(self.city.edges)} edges,"
            f" {len(self.city.viewer_hosts)} viewer hosts ({self.settings.access} access;"
            f" links {'delayed with netem' if self.netem else 'undelayed: no sch_netem'})"
        )

    def start_services(self) -> None:
        city, work = self.city, self.work
        origin = city.origin
        self._service(
            origin,
            python(
                "origin",
                "serve",
                "--host",
                origin.address,
                "--port",
                str(origin.port),
                "--content",
                str(ROOT / "content"),
                "--schedule",
                str(ROOT / "config/schedule.toml"),
            ),
        )
        shield_flags, parents, edge_flags = self._tiers_link()
        for shield in city.shields:
            self._service(
                shield,
                self._edge_command(
                    shield, self.settings.shield_config, [origin.url], work / shield.name
                )
                + shield_flags[shield.name],
            )
        for edge in city.edges:
            self._service(
                edge,
                self._edge_command(edge, self.settings.edge_config, parents, work / edge.name)
                + edge_flags,
            )
        for host in (origin, *city.shields, *city.edges):
            wait_ready(self.services[host.name], self._http(), host.url + "/healthz")
        if self.settings.prometheus:
            config_path = work / "prometheus.yml"
            prom.write_config(city, config_path)
            process = start(
                "prometheus",
                city.ops.namespace,
                prom.command(config_path, work / "tsdb", city),
                self.logs,
            )
            self.services["prometheus"] = process
            wait_ready(process, self._http(), prom.base_url(city) + "/-/ready")

    def _tiers_link(self) -> tuple[dict[str, list[str]], list[str], list[str]]:
        """Each shield's extra flags, the edges' parents and extra flags: plain HTTP, or with
        --tls an HTTPS listener per shield (a certificate for its address, from a CA made for
        the run) and edges that verify it against that CA."""
        shields = self.city.shields
        if not self.settings.tls:
            return {s.name: [] for s in shields}, [s.url for s in shields], []
        ca = pki.make_ca(self.work / "pki")
        flags = {}
        for shield in shields:
            pair = pki.make_leaf(ca, shield.name, shield.address)
            flags[shield.name] = ["--tls-port", str(TLS_PORT)]
            flags[shield.name] += ["--tls-cert", str(pair.cert), "--tls-key", str(pair.key)]
        return flags, [s.tls_url for s in shields], ["--upstream-ca", str(ca)]

    def _edge_command(
        self, host: Host, config: Path, upstreams: list[str], cache: Path
    ) -> list[str]:
        command = python(
            "edge",
            "serve",
            "--config",
            str(config),
            "--host",
            host.address,
            "--port",
            str(host.port),
            "--node-id",
            host.node_id,
            "--cache-dir",
            str(cache),
            "--no-access-log",
            "--workers",
            "1",  # one process a node: the city shares 2 cores
        )
        for url in upstreams:
            command += ["--upstream", url]
        return command

    def _service(self, host: Host, command: list[str]) -> None:
        self.services[host.name] = start(host.name, host.namespace, command, self.logs)

    def _http(self) -> NamespaceHttp:
        assert self.http is not None, "build() first"
        return self.http

    # -- running -----------------------------------------------------------------------------
    def master_playlist(self) -> str:
        url = f"{self.city.origin.url}/live/{self.settings.channel}/master.m3u8"
        return self._http().get(url).decode()

    def start_viewers(self) -> None:
        s = self.settings
        for group in viewer_groups(self.city, s.viewers):
            name = f"{group.host.name}-via-{group.edge.name}"
            target = f"{group.edge.url}/live/{s.channel}/master.m3u8"
            self.viewers[name] = start(
                name,
                group.host.namespace,
                python(
                    "loadtest",
                    "run",
                    "--target",
                    target,
                    "--viewers",
                    str(group.viewers),
                    "--duration",
                    f"{s.duration_s:g}",
                    "--ramp",
                    f"{s.ramp_s:g}",
                    "--mix",
                    s.mix,
                    *(("--homes", group.host.homes) if group.host.homes else ()),
                    "--report",
                    str(s.report_dir / "viewers" / name),
                    "--no-progress",
                ),
                self.logs,
            )
        self.started = time.monotonic()
        self.started_wall = time.time()

    def watch(self) -> None:
        s = self.settings
        deadline = self.started + s.duration_s + HARNESS_GRACE_S
        next_sample = self.started
        while any(p.alive() for p in self.viewers.values()):
            now = time.monotonic()
            if now > deadline:
                raise LoadtestError("the viewers did not finish in time")
            elapsed = now - self.started
            if (
                s.kill_shield_at is not None
                and self.killed_at is None
                and elapsed >= s.kill_shield_at
            ):
                self.kill_shield()
            if now >= next_sample:
                self.sample()
                next_sample += s.sample_interval_s
            time.sleep(0.05)
        self.sample()
        failed = [n for n, p in self.viewers.items() if p.popen.returncode not in (0, 1)]
        if failed:
            raise LoadtestError(
                f"viewer harness {failed[0]} failed:\n{self.viewers[failed[0]].tail()}"
            )

    def kill_shield(self) -> None:
        shield = self.city.shields[0]
        self.origin_at_kill = self.origin_requests()
        self.services[shield.name].kill()  # SIGKILL: a crash, not a drain
        self.killed_at = time.monotonic() - self.started
        self.say(f"killed {shield.name} at {self.killed_at:.1f} s")

    def origin_requests(self) -> dict[str, int]:
        body = self._http().get(self.city.origin.url + "/_stats")
        requests: dict[str, int] = orjson.loads(body)["requests"]
        return {path: count for path, count in requests.items() if path not in CONTROL_PATHS}

    def sample(self) -> None:
        http, city = self._http(), self.city
        row: dict[str, Any] = {"t": round(time.monotonic() - self.started, 2)}
        for host in (*city.shields, *city.edges):
            text = http.try_get(host.url + "/metrics")
            if text is not None:
                self.last[host.name] = analysis.edge_counters(analysis.parse_metrics(text.decode()))
        origin = self.origin_requests()
        row["origin.requests"] = sum(origin.values())
        row["origin.segment_fetches"] = sum(analysis.segment_counts(origin).values())
        tiers = (
            ("origin", (city.origin,)),
            ("shield", city.shields),
            ("edge", city.edges),
            ("viewers", city.viewer_hosts),
        )
        for tier, hosts in tiers:
            row[f"{tier}.tx_bytes"] = sum(self._sent(h) for h in hosts)
            row[f"{tier}.cpu_s"] = sum(self._cpu(h.name) for h in hosts)
            if tier in ("shield", "edge"):
                for key in COUNTERS:
                    row[f"{tier}.{key}"] = sum(
                        self.last.get(h.name, {}).get(key, 0.0) for h in hosts
                    )
        self.timeline.append(row)

    def _cpu(self, name: str) -> float:
        process = self.services.get(name)
        if process is not None and process.alive():
            self.cpu[name] = process.cpu_seconds()
        return self.cpu.get(name, 0.0)

    def _sent(self, host: Host) -> int:
        try:
            return netns.sent_bytes(host.namespace)
        except LoadtestError:
            return 0

    def prometheus_series(self) -> dict[str, Any] | None:
        if "prometheus" not in self.services:
            return None
        return prom.charts_data(self._http(), self.city, self.started_wall)

    def origin_fetches(self) -> list[tuple[float, str, str]]:
        names = {h.address: h.name for h in self.city.hosts}
        log = self.services[self.city.origin.name].log
        return analysis.segment_fetch_log(log.read_bytes().splitlines(), names)

    def harness_summaries(self) -> dict[str, dict[str, Any]]:
        summaries = {}
        for name in self.viewers:
            path = self.settings.report_dir / "viewers" / name / "summary.json"
            if path.is_file():
                summaries[name] = orjson.loads(path.read_bytes())
        return summaries

    # -- tearing down ------------------------------------------------------------------------
    def teardown(self) -> None:
        """SIGTERM to everyone at once, then wait on one deadline (a drain each, in turn, took
        five seconds per edge), then netns.destroy ends whatever is left by pid."""
        processes = [*self.viewers.values(), *self.services.values()]
        for process in processes:
            with contextlib.suppress(OSError):
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in processes:
            process.wait_until(deadline)
        if self.http is not None:
            self.http.close()
        netns.destroy(self.city.prefix)
        shutil.rmtree(self.work, ignore_errors=True)


def ladder_kbps(master: str) -> tuple[float, ...]:
    """Average bitrate per rendition (AVERAGE-BANDWIDTH, else BANDWIDTH), in kbit/s."""
    rungs = []
    for line in master.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            average = re.search(r"AVERAGE-BANDWIDTH=(\d+)", line)
            peak = re.search(r"[:,]BANDWIDTH=(\d+)", line)
            chosen = average or peak
            if chosen:
                rungs.append(int(chosen.group(1)) / 1000)
    if not rungs:
        raise LoadtestError("the channel's master playlist lists no renditions")
    return tuple(sorted(rungs))


def is_root() -> bool:
    return os.geteuid() == 0
