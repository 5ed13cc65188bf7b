"""`city --tls`: a certificate authority made for the run and a certificate per shield, with the
`openssl` command, so the edges verify their parents against a CA nobody else trusts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from loadtest.errors import LoadtestError

DAYS = "2"  # the run lasts minutes; the files go with the run's work directory


@dataclass(frozen=True, slots=True)
class Pair:
    cert: Path  # the leaf, then the CA: a chain, as an operator deploys one
    key: Path


def _openssl(*args: str) -> None:
    try:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LoadtestError(f"city --tls: openssl {args[0]} failed: {exc}") from None


def _new_key(path: Path) -> list[str]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(path)]


def make_ca(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "ca.crt"
    _openssl("req", "-x509", *_new_key(directory / "ca.key"), "-out", str(cert), "-days", DAYS,
             "-subj", "/CN=classcast city test CA")  # fmt: skip
    return cert


def make_leaf(ca: Path, name: str, address: str) -> Pair:
    """A P-256 certificate for an IP address (the edges name their parents by address)."""
    directory = ca.parent
    key, csr, leaf = (directory / f"{name}.{ext}" for ext in ("key", "csr", "leaf"))
    extensions = directory / f"{name}.ext"
    extensions.write_text(f"subjectAltName=IP:{address}\n")
    _openssl("req", "-new", *_new_key(key), "-out", str(csr), "-subj", f"/CN={address}")
    signer = ["-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")), "-CAcreateserial"]
    _openssl("x509", "-req", "-in", str(csr), *signer, "-days", DAYS, "-extfile", str(extensions),
             "-out", str(leaf))  # fmt: skip
    chain = directory / f"{name}.crt"
    chain.write_bytes(leaf.read_bytes() + ca.read_bytes())
    return Pair(chain, key)
