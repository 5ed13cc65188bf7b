"""TLS pieces without a network (issue 18): ticket keys shared across processes, profiles,
certificate files, the access-log fields."""

from __future__ import annotations

import io
import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from edge.http import tickets
from edge.http.accesslog import AccessLog
from edge.http.messages import Request
from edge.http.tls import ServerTls, TlsError, certificate_files, server_context
from tests.support.certs import make_ca, make_leaf


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
