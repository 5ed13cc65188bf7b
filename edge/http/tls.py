"""HTTPS at the edge: certificates, the server contexts, SNI, reload and ticket rotation.

Settings follow Mozilla's server-side TLS guidelines (v5.7): "intermediate" is TLS 1.2 and 1.3
with ECDHE and AEAD ciphers only; "modern" is TLS 1.3 only. ALPN offers http/1.1 (the edge
speaks nothing else). One context per certificate; the listening context's SNI callback
switches a connection to the certificate its server name asks for, and a client that names
none (or an unknown name) gets the first certificate. Reloading builds a whole new set first
and swaps it in only if every file is good: new connections take it, open ones keep theirs.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import math
import secrets
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

from edge.http import tickets

log = logging.getLogger("edge.tls")

Profile = Literal["intermediate", "modern"]
# Mozilla intermediate (TLS 1.2 part; TLS 1.3 suites are all AEAD and stay OpenSSL's default)
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)
CERT_SUFFIXES = (".crt", ".pem", ".cer")
ALPN = ["http/1.1"]


class TlsError(ValueError):
    """A certificate or key that cannot be used: one line naming the file and the problem."""

    def __init__(self, key: str, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.key = key  # the setting that named the file (tls_cert or tls_key)


@dataclass(frozen=True, slots=True)
class Certificate:
    cert: Path
    key: Path
    names: tuple[str, ...]  # DNS names it is valid for (subjectAltName, else the CN)
    serial: str
    not_after: float
    context: ssl.SSLContext

    def matches(self, server_name: str) -> bool:
        return any(fnmatch.fnmatchcase(server_name, name) for name in self.names)


def certificate_files(certs: Sequence[str], keys: Sequence[str]) -> list[tuple[Path, Path]]:
    """(certificate, key) pairs: files given in order, or a directory of `NAME.crt` (or .pem)
    with `NAME.key` beside each."""
    pairs: list[tuple[Path, Path]] = []
    files = [Path(cert) for cert in certs if not Path(cert).is_dir()]
    for directory in (Path(cert) for cert in certs if Path(cert).is_dir()):
        found = sorted(p for p in directory.iterdir() if p.suffix in CERT_SUFFIXES)
        for cert in found:
            key = cert.with_suffix(".key")
            if not key.exists():
                raise TlsError("tls_key", key, "missing (each NAME.crt needs NAME.key beside it)")
            pairs.append((cert, key))
        if not found:
            raise TlsError("tls_cert", directory, "no NAME.crt files in this directory")
    if len(keys) != len(files):
        raise TlsError(
            "tls_key",
            ", ".join(keys) or "--tls-key",
            f"{len(files)} certificate files need as many keys in the same order, got {len(keys)}",
        )
    return [*zip(files, map(Path, keys), strict=True), *pairs]


def load_certificates(
    certs: Sequence[str], keys: Sequence[str], profile: Profile, now: float | None = None
) -> list[Certificate]:
    """Every certificate, checked; raises TlsError for the first bad file."""
    moment = time.time() if now is None else now
    return [read_certificate(c, k, profile, moment) for c, k in certificate_files(certs, keys)]


def read_certificate(cert: Path, key: Path, profile: Profile, now: float) -> Certificate:
    for path, setting in ((cert, "tls_cert"), (key, "tls_key")):
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise TlsError(setting, path, exc.strerror or str(exc)) from None
    try:
        decoded: dict[str, Any] = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    except (ssl.SSLError, ValueError):
        raise TlsError("tls_cert", cert, "not a PEM certificate") from None
    not_before = _when(decoded["notBefore"])
    not_after = _when(decoded["notAfter"])
    if not_after <= now:
        raise TlsError("tls_cert", cert, f"expired on {decoded['notAfter']}")
    if not_before > now:
        raise TlsError("tls_cert", cert, f"not valid before {decoded['notBefore']}")
    context = server_context(profile)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        problem = "does not match the certificate" if "MISMATCH" in str(exc) else "not a PEM key"
        raise TlsError("tls_key", key, f"{problem} ({cert.name})") from None
    return Certificate(cert, key, _names(decoded), decoded["serialNumber"], not_after, context)


def _when(text: str) -> float:
    return parsedate_to_datetime(text.replace("  ", " ")).timestamp()


def _names(decoded: dict[str, Any]) -> tuple[str, ...]:
    names = tuple(
        value.lower() for kind, value in decoded.get("subjectAltName", ()) if kind == "DNS"
    )
    if names:
        return names
    return tuple(v.lower() for rdn in decoded["subject"] for k, v in rdn if k == "commonName")


def server_context(profile: Profile) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if profile == "modern" else ssl.TLSVersion.TLSv1_2
    )
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    # Mozilla: with only strong suites, let the client pick (a phone without AES hardware
    # prefers ChaCha20); no compression (CRIME), no renegotiation
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(ALPN)
    return context


class ServerTls:
    """What the HTTPS listeners share in one process: the certificate set, SNI, tickets."""

    def __init__(
        self,
        certs: Sequence[str],
        keys: Sequence[str],
        profile: Profile,
        *,
        ticket_secret: bytes = b"",
        ticket_rotate_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.certs, self.keys, self.profile = tuple(certs), tuple(keys), profile
        self.clock = clock
        self.ticket_secret = ticket_secret or secrets.token_bytes(32)
        self.ticket_rotate_s = ticket_rotate_s
        # "previous": the current key seals, the previous one still opens (tickets.Ring);
        # "current": only the current key (the fallback); "process": OpenSSL's own per process
        self.tickets: Literal["previous", "current", "process", "off"] = "previous"
        self.ring = tickets.Ring()
        self.certificates = load_certificates(certs, keys, profile, clock())
        self.context = server_context(profile)  # the listening one: it only picks
        first = self.certificates[0]
        self.context.load_cert_chain(first.cert, first.key)
        self.context.sni_callback = self._pick
        self._key = b""
        self._timer: asyncio.TimerHandle | None = None
        self.rotate()
        self._set_up_tickets()
        if self.tickets == "previous" and not tickets.self_test(self.context, self.ring):
            log.warning("ticket key callback failed its test: only the current key is used")
            self.tickets = "current"
            self._set_up_tickets()

    @property
    def serials(self) -> list[str]:
        return [certificate.serial for certificate in self.certificates]

    def choose(self, server_name: str | None) -> Certificate:
        """RFC 6066 3: the certificate for the name asked for; without one, the first."""
        if server_name:
            name = server_name.lower()
            for certificate in self.certificates:
                if certificate.matches(name):
                    return certificate
        return self.certificates[0]

    def _pick(self, connection: Any, server_name: str | None, _listening: ssl.SSLContext) -> None:
        connection.context = self.choose(server_name).context

    def reload(self) -> None:
        """Read the files again; raises TlsError and keeps the current set if one is bad."""
        fresh = load_certificates(self.certs, self.keys, self.profile, self.clock())
        self.certificates = fresh
        self._set_up_tickets()
        log.info("certificates reloaded", extra={"serials": self.serials})

    def rotate(self) -> float:
        """Take the current period's ticket key (the previous one still opens tickets);
        returns seconds until the next period."""
        if not self.ticket_rotate_s:
            return float("inf")
        now = self.clock()
        period = tickets.period_of(now, self.ticket_rotate_s)
        self._key = tickets.ticket_key(self.ticket_secret, period)
        self.ring.set(self._key, tickets.ticket_key(self.ticket_secret, period - 1))
        if self.tickets == "current":
            self._install_current()
        return tickets.seconds_to_next(now, self.ticket_rotate_s)

    def start_rotation(self) -> None:
        """Install each period's key at the period's start (every worker at the same moment)."""
        wait = self.rotate()
        if math.isfinite(wait):
            self._timer = asyncio.get_running_loop().call_later(wait, self.start_rotation)

    def stop_rotation(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _set_up_tickets(self) -> None:
        """Every context (the listening one and those SNI switches to) seals and opens
        tickets alike; the session timeout, sent as the ticket lifetime hint, is one period:
        what a ticket is accepted for (tickets.py)."""
        contexts = self._contexts()
        if not self.ticket_rotate_s:
            self.tickets = "off"
            for context in contexts:
                context.options |= ssl.OP_NO_TICKET
            return
        lifetime = max(1, math.ceil(self.ticket_rotate_s))
        for context in contexts:
            tickets.set_lifetime(context, lifetime)
        if self.tickets == "previous" and all([self.ring.attach(c) for c in contexts]):
            return
        for context in contexts:
            tickets.Ring.detach(context)
        if self.tickets == "previous":
            log.warning("no ticket key callback: only the current key is used")
            self.tickets = "current"
        self._install_current()

    def _install_current(self) -> None:
        if self.tickets != "current":
            return
        if not all([tickets.install(c, self._key) for c in self._contexts()]):
            log.warning("session tickets resume only on the worker that issued them")
            self.tickets = "process"

    def _contexts(self) -> list[ssl.SSLContext]:
        return [self.context, *(certificate.context for certificate in self.certificates)]


def secret_from(text: str) -> bytes:
    """The configured ticket secret as bytes ("" = none: a random one is made)."""
    return text.encode() if text else b""
