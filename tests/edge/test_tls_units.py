"""TLS pieces without a network (issue 18): ticket keys shared across processes, rotated with
the previous key kept (real OpenSSL handshakes in memory, a clock the test moves), profiles,
certificate files, the access-log fields."""

from __future__ import annotations

import io
import json
import logging
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.http import tickets
from edge.http.accesslog import AccessLog
from edge.http.messages import Request
from edge.http.tls import ServerTls, TlsError, certificate_files, server_context
from tests.support.certs import Leaf, make_ca, make_leaf


def test_every_process_derives_the_same_key_for_a_period_and_a_new_one_after() -> None:
    secret = b"node secret"
    key = tickets.ticket_key(secret, tickets.period_of(7200.5, 3600))
    assert len(key) == tickets.KEY_BYTES == 80
    assert key == tickets.ticket_key(secret, 2)
    assert key != tickets.ticket_key(secret, 3) and key != tickets.ticket_key(b"other", 2)
    assert tickets.seconds_to_next(7200.5, 3600) == 3599.5
    code = "from edge.http.tickets import ticket_key; print(ticket_key(b'node secret', 2).hex())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == key.hex()  # another interpreter: no per-process salt


def test_the_key_is_installed_in_openssl_and_read_back() -> None:
    context = server_context("intermediate")
    key = tickets.ticket_key(b"s", 1)
    assert tickets.install(context, key)
    assert not tickets.install(context, b"short")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def leaf(tmp_path_factory: pytest.TempPathFactory) -> Leaf:
    directory = tmp_path_factory.mktemp("pki")
    return make_leaf(make_ca(directory), directory, "edge", 1)


def rotating(leaf: Leaf, clock: Clock, period_s: float = 100) -> ServerTls:
    tls = ServerTls([str(leaf.cert)], [str(leaf.key)], "intermediate",
                    ticket_secret=b"node", ticket_rotate_s=period_s, clock=clock)  # fmt: skip
    return tls


def client(version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = version
    return context


VERSIONS = [pytest.param(v, id=v.name) for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_ticket_resumes_in_the_next_period_and_not_in_the_one_after(
    leaf: Leaf, version: ssl.TLSVersion
) -> None:
    clock = Clock((time.time() // 100 + 1) * 100 + 99)  # the last second of period N
    tls, phone = rotating(leaf, clock), client(version)
    assert tls.tickets == "previous"
    issued = tickets.converse(tls.context, phone)
    session = issued.session
    assert session is not None and session.has_ticket and not issued.session_reused
    clock.now += 2  # period N+1: the key of N still opens, and a new ticket is sealed
    tls.rotate()
    again = tickets.converse(tls.context, phone, session)
    assert again.session_reused and tls.ring.renewed >= 1
    clock.now += 100  # period N+2: the key of N is gone
    tls.rotate()
    assert not tickets.converse(tls.context, phone, session).session_reused
    assert tls.ring.unknown >= 1
    renewed = again.session  # sealed in N+1 with its key: still good in N+2
    assert renewed is not None
    assert tickets.converse(tls.context, phone, renewed).session_reused


@pytest.mark.parametrize("version", VERSIONS)
def test_the_lifetime_hint_is_one_period_which_is_what_a_ticket_lives(
    leaf: Leaf, version: ssl.TLSVersion
) -> None:
    tls = rotating(leaf, Clock(time.time()), period_s=900)
    session = tickets.converse(tls.context, client(version)).session
    assert session is not None and session.ticket_lifetime_hint == 900


def test_two_workers_of_a_node_open_each_others_tickets(leaf: Leaf) -> None:
    clock = Clock(time.time())
    first, second = rotating(leaf, clock), rotating(leaf, clock)  # same secret, same period
    phone = client(ssl.TLSVersion.TLSv1_3)
    session = tickets.converse(first.context, phone).session
    assert tickets.converse(second.context, phone, session).session_reused
    other = ServerTls([str(leaf.cert)], [str(leaf.key)], "intermediate",
                      ticket_secret=b"another node", clock=clock)  # fmt: skip
    assert not tickets.converse(other.context, phone, session).session_reused


def test_a_certificate_reload_keeps_the_tickets_and_their_lifetime(leaf: Leaf) -> None:
    tls, phone = rotating(leaf, Clock(time.time()), period_s=600), client(ssl.TLSVersion.TLSv1_3)
    session = tickets.converse(tls.context, phone).session
    tls.reload()  # new certificate contexts; tickets stay (OpenSSL uses the listening one)
    again = tickets.converse(tls.context, phone, session)
    assert again.session_reused and tls.tickets == "previous"
    assert again.session is not None and again.session.ticket_lifetime_hint == 600


def test_without_the_callback_only_the_current_key_is_installed(
    leaf: Leaf, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fallback where OpenSSL's callback fails its self-test: today's single key."""
    monkeypatch.setattr(tickets, "self_test", lambda _context, _ring: False)
    clock = Clock((time.time() // 100 + 1) * 100 + 99)
    with caplog.at_level(logging.WARNING, "edge.tls"):
        tls = rotating(leaf, clock)
    assert tls.tickets == "current" and "only the current key" in caplog.text
    phone = client(ssl.TLSVersion.TLSv1_2)
    session = tickets.converse(tls.context, phone).session
    assert tickets.converse(tls.context, phone, session).session_reused
    assert tls.ring.sealed == 0  # OpenSSL sealed it with the installed key, not the callback
    clock.now += 2
    tls.rotate()
    assert not tickets.converse(tls.context, phone, session).session_reused


def test_no_tickets_when_rotation_is_off(leaf: Leaf) -> None:
    tls = rotating(leaf, Clock(time.time()), period_s=0)
    session = tickets.converse(tls.context, client(ssl.TLSVersion.TLSv1_2)).session
    assert tls.tickets == "off" and session is not None and not session.has_ticket


def test_profiles_set_the_oldest_version() -> None:
    assert server_context("intermediate").minimum_version == ssl.TLSVersion.TLSv1_2
    modern = server_context("modern")
    assert modern.minimum_version == ssl.TLSVersion.TLSv1_3
    assert modern.maximum_version == ssl.TLSVersion.TLSv1_3
    suites = {cipher["name"] for cipher in server_context("intermediate").get_ciphers()}
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in suites
    assert not any("CBC" in c or c.endswith("-SHA") or "RC4" in c for c in suites), suites


def test_a_directory_pairs_each_certificate_with_its_key(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    a = make_leaf(ca, tmp_path / "certs", "a", 1, ("a.test",))
    make_leaf(ca, tmp_path / "certs", "b", 2, ("b.test",))
    for stray in (tmp_path / "certs").glob("*.leaf"):
        stray.unlink()
    pairs = certificate_files([str(tmp_path / "certs")], [])
    assert [cert.name for cert, _ in pairs] == ["a.crt", "b.crt"]
    tls = ServerTls([str(tmp_path / "certs")], [], "intermediate", ticket_rotate_s=0)
    assert tls.choose("b.test").serial == "02" and tls.choose(None).cert == a.cert
    (tmp_path / "certs" / "b.key").unlink()
    with pytest.raises(TlsError, match=r"b\.key: missing"):
        certificate_files([str(tmp_path / "certs")], [])


def test_certificates_and_keys_must_pair_up() -> None:
    with pytest.raises(TlsError, match="2 certificate files need as many keys"):
        certificate_files(["a.crt", "b.crt"], ["a.key"])


async def test_the_access_log_names_the_tls_version_and_resumption() -> None:
    out = io.BytesIO()
    log = AccessLog(out, clock=lambda: 1.0)
    request = Request("GET", "/a.ts", {}, peer="::1")
    log.log(request, 200, "HIT", 10, 0.001, ',"tls":"TLSv1.3","resumed":true')
    log.log(request, 200, "HIT", 10, 0.001)  # plain HTTP: no TLS fields
    log.flush()
    tls_line, plain_line = out.getvalue().decode().splitlines()
    assert json.loads(tls_line)["tls"] == "TLSv1.3" and json.loads(tls_line)["resumed"] is True
    assert "tls" not in json.loads(plain_line)
