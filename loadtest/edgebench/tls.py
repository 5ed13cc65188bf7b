"""`--tls`: the edge's HTTPS against nginx's, one process each, the same ECDSA P-256
certificate, TLS 1.3 with the suite the client prefers (both leave the choice to it, so both
run TLS_AES_256_GCM_SHA384 with wrk and openssl s_time), keep-alive connections for the hot
scenarios. Neither can hand TLS to the kernel here (no kTLS), so both read and encrypt.

Handshakes: `openssl s_time` clients in parallel, `-new` (a full ECDHE handshake and one
request per connection) and `-reuse` (the session resumed by its ticket); the server's CPU per
connection is read around each run as for wrk.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from loadtest.edgebench.nginx import nginx_command
from loadtest.edgebench.procs import free_port, tree_cpu_seconds
from loadtest.edgebench.scenarios import Target

EDGE_TLS, NGINX_TLS = "classcast edge, https", "nginx proxy_cache, https"
HANDSHAKE_CLIENTS = 3  # s_time processes at once: enough to keep one server core busy
# Mozilla intermediate, the TLS 1.2 part (TLS 1.3 suites are OpenSSL's defaults on both)
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def make_certificate(root: Path) -> Certificate:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1, as a CDN would deploy today."""
    cert, key = root / "tls.crt", root / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=bench",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return Certificate(cert, key)


def nginx_tls_command(
    root: Path, port: int, tls_port: int, upstream: str, certificate: Certificate
) -> list[str] | None:
    """nginx_command's server, with an HTTPS listener configured as Mozilla's intermediate
    profile has it (tickets on, a shared session cache)."""
    command = nginx_command(root, port, upstream)
    if command is None:
        return None
    conf = Path(command[2])
    tls = (
        f"listen 127.0.0.1:{tls_port} ssl; ssl_certificate {certificate.cert}; "
        f"ssl_certificate_key {certificate.key}; ssl_protocols TLSv1.2 TLSv1.3; "
        f"ssl_ciphers {CIPHERS}; ssl_prefer_server_ciphers off; ssl_session_tickets on; "
        "ssl_session_timeout 1d; ssl_session_cache shared:classcast:10m;"
    )
    text = conf.read_text()
    conf.write_text(text.replace(f"listen 127.0.0.1:{port};", f"listen 127.0.0.1:{port}; {tls}"))
    return command


@dataclass
class Handshakes:
    name: str
    mode: str  # "new" or "reuse"
    connections: int
    seconds: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.connections / self.seconds

    @property
    def cpu_ms_per_connection(self) -> float:
        return 1000 * self.cpu_s / self.connections


def handshakes(target: Target, mode: str, seconds: int) -> Handshakes:
    """HANDSHAKE_CLIENTS `openssl s_time` runs at once against `target`, one GET each."""
    host_port = target.url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + target.url.split("//", 1)[1].split("/", 1)[1]
    command = ["openssl", "s_time", "-connect", host_port, "-www", path, f"-{mode}"]
    command += ["-time", str(seconds)]
    before, started = tree_cpu_seconds(target.pid), time.monotonic()
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(HANDSHAKE_CLIENTS)
    ]
    outputs = [run.communicate(timeout=seconds + 60)[0] for run in runs]
    elapsed, cpu = time.monotonic() - started, tree_cpu_seconds(target.pid) - before
    total = sum(_connections(out) for out in outputs)
    return Handshakes(target.name, mode, total, elapsed, cpu)


def _connections(out: str) -> int:
    """s_time's "N connections in T real seconds" (its last run, the one with -new/-reuse)."""
    found = re.findall(r"(\d+) connections in [\d.]+ real seconds", out)
    return int(found[-1]) if found else 0


def handshake_rounds(
    targets: list[Target], rounds: int, seconds: int
) -> dict[tuple[str, str], list[Handshakes]]:
    results: dict[tuple[str, str], list[Handshakes]] = {}
    for _ in range(rounds):
        for mode in ("new", "reuse"):
            for target in targets:
                results.setdefault((target.name, mode), []).append(
                    handshakes(target, mode, seconds)
                )
    for (name, mode), runs in results.items():
        best = sorted(runs, key=lambda h: h.per_s)[len(runs) // 2]
        print(
            f"  {name:<34} {mode:<5} {best.per_s:>8.0f} conn/s"
            f" {best.cpu_ms_per_connection:>7.3f} cpu-ms/conn",
            flush=True,
        )
    return results


def free_tls_ports() -> tuple[int, int]:
    return free_port(), free_port()
