"""A test certificate authority and leaf certificates made with the `openssl` command, so TLS
tests run real handshakes against certificates nobody else trusts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = ("localhost", "IP:127.0.0.1", "IP:::1")


@dataclass(frozen=True)
class Leaf:
    cert: Path  # the leaf, then the CA (a chain in the certificate file)
    key: Path
    serial: int

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:02X}"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def make_ca(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "ca.crt"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(directory / "ca.key"), "-out", str(cert), "-days", "3",
        "-subj", "/CN=classcast test CA",
    )  # fmt: skip
    return cert


def make_leaf(
    ca: Path,
    directory: Path,
    name: str,
    serial: int,
    names: tuple[str, ...] = LOOPBACK_NAMES,
    days: int = 2,
) -> Leaf:
    """A P-256 certificate for `names` (DNS names, or `IP:` addresses) signed by `ca`; a
    negative `days` makes one that has expired."""
    directory.mkdir(parents=True, exist_ok=True)
    key, csr, leaf = (directory / f"{name}.{ext}" for ext in ("key", "csr", "leaf"))
    extensions = directory / f"{name}.ext"
    alt = ",".join(n if n.startswith("IP:") else f"DNS:{n}" for n in names)
    extensions.write_text(f"subjectAltName={alt}\n")
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={names[0]}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")),
        "-set_serial", str(serial), "-days", str(days), "-extfile", str(extensions),
        "-out", str(leaf),
    )  # fmt: skip
    cert = directory / f"{name}.crt"
    cert.write_bytes(leaf.read_bytes() + ca.read_bytes())
    return Leaf(cert, key, serial)
