"""HTTPS at the edge (issue 18): real handshakes on loopback against certificates of a test CA
made here, an edge node of real processes listening on IPv4 and IPv6, plain and TLS.

Which worker serves a connection is the kernel's choice; where a test needs one worker in
particular, the others are stopped (SIGSTOP) so that only it can accept."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.certs import Leaf, make_ca, make_leaf
from tests.support.process import ROOT, SAMPLE_ORIGIN, run_service
from tests.support.recording_upstream import Answer, recording_upstream
from tests.support.wait import until_sync

pytestmark = pytest.mark.e2e
NOWHERE = "http://127.0.0.1:9"  # an upstream these tests never reach
FOUR = ["--listen", "127.0.0.1:0", "--listen", "[::1]:0"]
FOUR += ["--listen-tls", "127.0.0.1:0", "--listen-tls", "[::1]:0"]


@dataclass
class Pki:
    ca: Path
    leaf: Leaf
    directory: Path

    def flags(self, leaf: Leaf | None = None) -> list[str]:
        leaf = leaf or self.leaf
        return ["--tls-cert", str(leaf.cert), "--tls-key", str(leaf.key)]

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory)
    return Pki(ca, make_leaf(ca, directory, "edge", 1), directory)


# -- the edge as a process ------------------------------------------------------------------


@dataclass
class Edge:
    process: subprocess.Popen[bytes]
    log_path: Path
    ready: dict[str, Any]

    @property
    def urls(self) -> list[str]:
        return list(self.ready["urls"])

    def url(self, scheme: str, host: str = "127.0.0.1") -> str:
        return next(u for u in self.urls if u.startswith(f"{scheme}://{host}"))

    @property
    def workers(self) -> list[int]:
        return list(self.ready.get("workers", []))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def edge(tmp_path: Path, *args: str, workers: int | None = None) -> Iterator[Edge]:
    log_path = tmp_path / f"edge-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "edge", "serve", "--rate-per-client", "0", *args]
    if "--upstream" not in args:
        command += ["--upstream", NOWHERE]
    command += ["--workers", str(workers)] if workers else []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLASSCAST_EDGE_SHUTDOWN_TIMEOUT": "1"}
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        ready: list[dict[str, Any]] = []

        def is_ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"edge exited {process.returncode}: {log_path.read_text()}")
            ready[:] = [json.loads(line) for line in log_path.read_text().splitlines()
                        if '"edge ready"' in line]  # fmt: skip
            return bool(ready)

        until_sync(is_ready, 20, "the edge ready", every=0.05)
        yield Edge(process, log_path, ready[0])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    assert "Traceback" not in log_path.read_text()


@contextlib.contextmanager
def only(edge: Edge, worker: int) -> Iterator[None]:
    """Every other worker stopped: only `worker` can accept a connection."""
    others = [pid for pid in edge.workers if pid != worker]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


# -- a client -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    head: str
    body: bytes
    version: str | None = None
    resumed: bool = False
    serial: str = ""
    session: ssl.SSLSession | None = None


def get(
    url: str,
    context: ssl.SSLContext | None = None,
    path: str = "/healthz",
    *,
    server_name: str | None = "",
    session: ssl.SSLSession | None = None,
) -> Reply:
    """One request on a new connection; `server_name` "" sends the URL's host as SNI, None
    sends no SNI at all."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with contextlib.ExitStack() as stack:
        sock = raw = stack.enter_context(
            socket.create_connection((parts.hostname, parts.port), timeout=10)
        )
        if parts.scheme == "https":
            assert context is not None
            name = parts.hostname if server_name == "" else server_name
            sock = stack.enter_context(
                context.wrap_socket(raw, server_hostname=name, session=session)
            )
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        reply = Reply(int(head.split()[1]), head.decode("latin-1"), body)
        if isinstance(sock, ssl.SSLSocket):
            reply.version, reply.resumed, reply.session = (
                sock.version(),
                bool(sock.session_reused),
                sock.session,
            )
            reply.serial = _serial(sock)
        return reply


def _serial(sock: ssl.SSLSocket) -> str:
    peer = sock.getpeercert()
    if peer:
        return str(peer["serialNumber"])
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    pem = Path(f"/tmp/classcast-peer-{os.getpid()}.pem")
    pem.write_text(ssl.DER_cert_to_PEM_cert(der))
    try:
        return str(ssl._ssl._test_decode_cert(str(pem))["serialNumber"])  # type: ignore[attr-defined]
    finally:
        pem.unlink()


def loose_client(minimum: ssl.TLSVersion, maximum: ssl.TLSVersion, ciphers: str) -> ssl.SSLContext:
    """A client that offers what a careful server must refuse (old versions, weak suites)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0 and 1.1 are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version, context.maximum_version = minimum, maximum
    context.set_ciphers(ciphers)
    return context


# -- listeners ------------------------------------------------------------------------------


def test_every_worker_serves_all_four_listeners(pki: Pki, tmp_path: Path) -> None:
    with edge(tmp_path, *FOUR, *pki.flags(), "--hsts-max-age", "600", workers=2) as node:
        assert [u.split(":")[0] for u in node.urls] == ["http", "http", "https", "https"]
        assert node.urls[1].startswith("http://[::1]:") and node.urls[3].startswith(
            "https://[::1]:"
        )
        assert len(node.workers) == 2
        for worker in node.workers:
            with only(node, worker):
                for url in node.urls * 2:  # the second round hits the stored copy
                    reply = get(url, pki.client())
                    assert (reply.status, reply.body) == (200, b"ok\n"), url
                    hsts = "Strict-Transport-Security: max-age=600" in reply.head
                    assert hsts == url.startswith("https"), reply.head  # RFC 6797 7.2
                    if url.startswith("https"):
                        assert reply.version in ("TLSv1.2", "TLSv1.3")
        metrics = get(node.urls[2], pki.client(), "/metrics").body.decode()
        per_worker = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("classcast_edge_worker_tls_connections{")
        ]
        assert len(per_worker) == 2 and all(count >= 2 for count in per_worker), per_worker
        until_sync(lambda: '"tls":"TLSv1.3","resumed":false' in node.log(), 5, "a TLS log line")


def test_hsts_rides_on_stored_answers_too(pki: Pki, tmp_path: Path) -> None:
    """A hit leaves through the prebuilt head (edge/http/prebuilt.py): HSTS must still be on it."""
    with recording_upstream() as origin:
        origin.answers["/v/index.m3u8"] = Answer(b"#EXTM3U\n#EXT-X-ENDLIST\n")
        flags = ["--port", "0", "--tls-port", "0", "--upstream", origin.url, *pki.flags()]
        with edge(tmp_path, *flags, "--hsts-max-age", "600") as node:
            reply = get(node.url("https"), pki.client(), "/v/index.m3u8")  # stores it
            assert "Strict-Transport-Security: max-age=600" in reply.head, reply.head
            port = urlsplit(node.url("https")).port
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                pki.client().wrap_socket(raw, server_hostname="localhost") as tls,
            ):  # a keep-alive hit is the one the prebuilt head answers
                ask = "GET /v/index.m3u8 HTTP/1.1\r\nHost: edge\r\n"
                tls.sendall(f"{ask}\r\n{ask}Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
            assert data.count(b"X-Cache: HIT") == 2, data
            assert data.count(b"Strict-Transport-Security: max-age=600\r\n") == 2, data
            plain = get(node.url("http"), path="/v/index.m3u8")
            assert "Strict-Transport-Security" not in plain.head  # RFC 6797 7.2
        assert origin.hits("/v/index.m3u8") == 1


def test_a_repeated_single_value_flag_is_refused_with_one_line() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "serve",
            "--upstream",
            NOWHERE,
            "--port",
            "1",
            "--port",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert run.returncode == 2
    assert run.stderr == "edge serve: error: --port given twice (it takes one value)\n"


# -- certificates ---------------------------------------------------------------------------


def test_the_certificate_is_chosen_by_server_name(pki: Pki, tmp_path: Path) -> None:
    first = make_leaf(pki.ca, pki.directory, "first", 11, ("a.test", "IP:127.0.0.1"))
    second = make_leaf(pki.ca, pki.directory, "second", 12, ("b.test", "*.b.test"))
    flags = [*pki.flags(first), *pki.flags(second), "--tls-port", "0"]
    with edge(tmp_path, "--host", "127.0.0.1", "--port", "0", *flags) as lone:
        url = lone.url("https")
        client = pki.client()
        assert get(url, client, server_name="b.test").serial == second.serial_hex
        assert get(url, client, server_name="x.b.test").serial == second.serial_hex
        assert get(url, client, server_name="a.test").serial == first.serial_hex
        no_sni = ssl.create_default_context(cafile=str(pki.ca))
        no_sni.check_hostname = False
        assert get(url, no_sni, server_name=None).serial == first.serial_hex  # the default
        unknown = get(url, no_sni, server_name="elsewhere.test")
        assert (unknown.status, unknown.serial) == (200, first.serial_hex)


def test_old_protocols_and_weak_ciphers_are_refused(pki: Pki, tmp_path: Path) -> None:
    with edge(tmp_path, "--port", "0", "--tls-port", "0", *pki.flags()) as lone:
        url = lone.url("https")
        old = "ALL:@SECLEVEL=0"
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError):
                get(url, loose_client(version, version, old))
        tls12 = ssl.TLSVersion.TLSv1_2
        for weak in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256"):
            with pytest.raises(ssl.SSLError):
                get(url, loose_client(tls12, tls12, f"{weak}:@SECLEVEL=0"))
        good = get(url, loose_client(tls12, tls12, "ECDHE-ECDSA-AES128-GCM-SHA256"))
        assert (good.status, good.version) == (200, "TLSv1.2")
        assert get(url, pki.client()).version == "TLSv1.3"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_session_resumes_on_another_worker(
    pki: Pki, tmp_path: Path, version: ssl.TLSVersion
) -> None:
    client = pki.client()
    client.maximum_version = version
    with edge(tmp_path, *FOUR, *pki.flags(), workers=2) as node:
        url = node.url("https")
        first, second = node.workers
        with only(node, first):
            issued = get(url, client)
        assert issued.session is not None and not issued.resumed
        with only(node, second):
            again = get(url, client, session=issued.session)
        assert (again.status, again.version, again.resumed) == (200, issued.version, True)
        until_sync(lambda: '"resumed":true' in node.log(), 5, "the resumption logged")


def test_a_ticket_from_the_last_period_resumes_on_another_worker(pki: Pki, tmp_path: Path) -> None:
    """Keys rotate every PERIOD s; a ticket issued late in period N still resumes early in
    N+1 on the other worker (the previous key still opens it), and its lifetime hint says
    one period. Period N+2 (the key gone) is tests/edge/test_tls_units.py's, with a clock
    the test moves: here a ticket that old has also outlived its hint."""
    period = 4.0
    clients = {v: pki.client() for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)}
    for version, client in clients.items():
        client.maximum_version = version
    flags = ["--tls-ticket-rotate-s", str(period)]
    with edge(tmp_path, *FOUR, *pki.flags(), *flags, workers=2) as node:
        url = node.url("https")
        first, second = node.workers
        until_sync(lambda: 2.0 <= time.time() % period < 2.5, period + 1, "late in a period")
        issued_in = time.time() // period
        with only(node, first):
            issued = {v: get(url, client) for v, client in clients.items()}
        until_sync(lambda: time.time() % period >= 0.5 and time.time() // period > issued_in,
                   period, "early in the next period")  # fmt: skip
        assert time.time() // period == issued_in + 1  # the rotation happened in between
        with only(node, second):
            again = {
                v: get(url, client, session=issued[v].session) for v, client in clients.items()
            }
        for version, reply in again.items():
            session = issued[version].session
            assert session is not None and session.ticket_lifetime_hint == period
            assert (reply.status, reply.resumed) == (200, True), version
        assert "only the current key" not in node.log()  # both workers run the callback


def renew(old: Leaf, fresh: Leaf) -> None:
    """Put `fresh` in `old`'s files, each replaced at once (as certbot's deploy does)."""
    for source, target in ((fresh.cert, old.cert), (fresh.key, old.key)):
        staging = target.with_suffix(".new")
        shutil.copyfile(source, staging)
        os.replace(staging, target)


class Load:
    """Viewers on HTTPS while the test acts: new connections and keep-alive ones (a request
    on a kept connection the server closed while idle is retried once, as browsers do)."""

    def __init__(self, url: str, context: ssl.SSLContext) -> None:
        self.url, self.context = url, context
        self.done = threading.Event()
        self.answered = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._fresh), threading.Thread(target=self._fresh)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(30)

    def _fresh(self) -> None:
        while not self.done.is_set():
            try:
                reply = get(self.url, self.context)
                assert reply.status == 200, reply.head
                self.answered += 1
            except (OSError, AssertionError) as exc:
                self.failures.append(repr(exc))


def test_sighup_renews_the_certificate_under_load(pki: Pki, tmp_path: Path) -> None:
    live = make_leaf(pki.ca, tmp_path / "live", "edge", 21)
    with edge(tmp_path, *FOUR, *pki.flags(live), workers=2) as node:
        url = node.url("https")
        with Load(url, pki.client()) as load:
            until_sync(lambda: load.answered >= 20, 10, "load running")
            renew(live, make_leaf(pki.ca, tmp_path / "next", "edge", 22))
            node.process.send_signal(signal.SIGHUP)
            until_sync(lambda: get(url, pki.client()).serial == "16", 20, "the new certificate")
            until_sync(lambda: '"reloaded"' in node.log(), 10, "the old workers retired")
            seen = load.answered
            until_sync(lambda: load.answered >= seen + 20, 10, "load after the reload")
        assert load.failures == [], load.failures[:5]


def test_a_bad_certificate_on_reload_keeps_the_old_one(pki: Pki, tmp_path: Path) -> None:
    live = make_leaf(pki.ca, tmp_path / "live", "edge", 31)
    with edge(tmp_path, *FOUR, *pki.flags(live), workers=2) as node:
        url = node.url("https")
        live.cert.write_text("not a certificate\n")
        node.process.send_signal(signal.SIGHUP)
        until_sync(lambda: "reload refused" in node.log(), 10, "the reload refused")
        assert str(live.cert) in node.log() and "not a PEM certificate" in node.log()
        assert get(url, pki.client()).serial == "1F"


def test_one_process_reloads_its_certificate_on_sighup(pki: Pki, tmp_path: Path) -> None:
    live = make_leaf(pki.ca, tmp_path / "live", "edge", 41)
    with edge(tmp_path, "--port", "0", "--tls-port", "0", *pki.flags(live)) as lone:
        url = lone.url("https")
        renew(live, make_leaf(pki.ca, tmp_path / "expired", "edge", 42, days=-1))
        lone.process.send_signal(signal.SIGHUP)
        until_sync(lambda: "reload refused" in lone.log(), 10, "an expired one refused")
        assert get(url, pki.client()).serial == "29"
        renew(live, make_leaf(pki.ca, tmp_path / "next", "edge", 43))
        lone.process.send_signal(signal.SIGHUP)
        until_sync(lambda: get(url, pki.client()).serial == "2B", 10, "the new certificate")


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("missing", "No such file or directory"),
        ("expired", "expired on"),
        ("mismatched", "does not match the certificate"),
        ("garbage", "not a PEM certificate"),
    ],
)
def test_a_bad_certificate_stops_the_start_with_one_line(
    pki: Pki, tmp_path: Path, case: str, problem: str
) -> None:
    cert, key = pki.leaf.cert, pki.leaf.key
    named = cert
    if case == "missing":
        named = cert = tmp_path / "gone.crt"
    elif case == "expired":
        named = cert = make_leaf(pki.ca, tmp_path, "old", 51, days=-1).cert
    elif case == "mismatched":
        named = key = make_leaf(pki.ca, tmp_path, "other", 52).key
    else:
        named = cert = tmp_path / "garbage.crt"
        cert.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n")
    run = subprocess.run(
        [sys.executable, "-m", "edge", "serve", "--upstream", NOWHERE, "--tls-port", "0",
         "--tls-cert", str(cert), "--tls-key", str(key), "--workers", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert str(named) in run.stderr and problem in run.stderr, run.stderr


# -- what a TLS port must survive -------------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing; fails if it keeps the connection open."""
    sock.settimeout(seconds)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_plain_http_or_garbage_on_the_tls_port_is_closed_quietly(pki: Pki, tmp_path: Path) -> None:
    with edge(tmp_path, "--port", "0", "--tls-port", "0", *pki.flags()) as lone:
        address = urlsplit(lone.url("https")).netloc.split(":")
        target = (address[0], int(address[1]))
        for junk in (b"GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n", os.urandom(512)):
            with socket.create_connection(target, timeout=5) as sock:
                sock.sendall(junk)
                assert b"HTTP/1.1 200" not in _closed_within(sock, 5)
        assert get(lone.url("https"), pki.client()).status == 200  # and it serves on
        log = lone.log()
    assert "Traceback" not in log and '"level":"error"' not in log


def test_a_slow_handshake_is_cut_by_the_header_timeout(pki: Pki, tmp_path: Path) -> None:
    flags = ["--port", "0", "--tls-port", "0", "--header-timeout", "1", *pki.flags()]
    with edge(tmp_path, *flags) as lone:
        address = urlsplit(lone.url("https")).netloc.split(":")
        with socket.create_connection((address[0], int(address[1])), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello's first bytes, then nothing
            started = time.monotonic()
            assert _closed_within(sock, 8) == b""
            assert time.monotonic() - started < 6  # closed by the edge, not by our timeout


# -- a lesson over HTTPS ----------------------------------------------------------------------

SIGN_KEY = "tls-test-key-0123456789"
LESSON = "/vod/math-fractions/"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is installed by scripts/setup")
def test_ffmpeg_plays_a_signed_lesson_over_https(pki: Pki, tmp_path: Path) -> None:
    with run_service("origin", SAMPLE_ORIGIN, tmp_path / "origin.log") as origin:
        flags = [*FOUR, *pki.flags(), "--upstream", origin.url, "--sign-key", SIGN_KEY]
        with edge(tmp_path, *flags, workers=2) as node:
            url = node.url("https")
            assert get(url, pki.client(), LESSON + "master.m3u8").status == 403  # no token
            signed = subprocess.run(
                [sys.executable, "-m", "edge", "sign", LESSON + "master.m3u8", "--key", SIGN_KEY,
                 "--prefix", LESSON, "--ttl", "120"],
                capture_output=True, text=True, check=True, cwd=ROOT, timeout=30,
            ).stdout.strip()  # fmt: skip
            assert get(url, pki.client(), signed).status == 200
            played = subprocess.run(
                ["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1", "-tls_verify", "1",
                 "-ca_file", str(pki.ca), "-i", url.rstrip("/") + signed, "-f", "null", "-"],
                capture_output=True, text=True, timeout=90,
            )  # fmt: skip
            assert played.returncode == 0, played.stderr
            assert "progress=end" in played.stdout and played.stderr.strip() == ""
            until_sync(lambda: '"tls":"TLSv1.3"' in node.log(), 5, "HTTPS requests logged")
            assert ".ts?cc_exp=" in node.log()  # segments came over HTTPS with their tokens


# -- TLS to the upstream ----------------------------------------------------------------------


def _gauge(metrics: str, name: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_an_https_upstream_is_verified_and_its_connections_reused(pki: Pki, tmp_path: Path) -> None:
    segments = {f"/v/seg{i}.ts": Answer(bytes([i]) * 5000, "video/mp2t") for i in range(6)}
    with recording_upstream() as origin:
        origin.answers.update(segments)
        shield_flags = ["--port", "0", "--tls-port", "0", "--upstream", origin.url, *pki.flags()]
        shield_flags += ["--node-id", "shield"]
        with edge(tmp_path, *shield_flags) as shield:
            port = urlsplit(shield.url("https")).port
            parent = f"https://localhost:{port}"  # a name: sent as SNI, checked against the SAN
            trusting = ["--port", "0", "--upstream", parent, "--upstream-ca", str(pki.ca)]
            trusting += ["--node-id", "child"]
            with edge(tmp_path, *trusting) as child:
                for path, answer in segments.items():
                    reply = get(child.url("http"), path=path)
                    assert (reply.status, reply.body) == (200, answer.body)
                metrics = get(shield.url("https"), pki.client(), "/metrics").body.decode()
                assert _gauge(metrics, "classcast_edge_tls_connections") <= 2  # + this scrape
            with edge(tmp_path, "--port", "0", "--upstream", parent, "--node-id", "b") as blind:
                # the test CA is in no system store: the shield is not trusted, nothing fetched
                assert get(blind.url("http"), path="/v/other.ts").status == 502
                until_sync(lambda: "CertificateError" in blind.log(), 5, "the refusal logged")
        assert origin.hits("/v/other.ts") == 0
