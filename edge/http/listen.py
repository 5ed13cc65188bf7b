"""Where the edge listens: `ADDRESS:PORT` listeners, plain or TLS, IPv4 and IPv6, and the
sockets for them.

One node may listen on several addresses at once (phones over IPv6, set-top boxes over IPv4,
HTTPS beside HTTP). An IPv6 socket is bound IPV6_V6ONLY, as nginx does, so `0.0.0.0:80` and
`[::]:80` can be bound side by side and each address says exactly what it serves.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

BACKLOG = 1024


@dataclass(frozen=True, slots=True)
class Listener:
    host: str  # an address or a name; IPv6 without brackets
    port: int  # 0: any free port (tests)
    tls: bool = False

    @property
    def address(self) -> str:
        """`ADDRESS:PORT` as a flag takes it (`[::1]:8081` for IPv6)."""
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """A URL a person can paste: a wildcard address is shown as the loopback one."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"{'https' if self.tls else 'http'}://{_bracketed(host)}:{self.port}/"


def parse_listener(text: str, tls: bool = False) -> Listener:
    """`127.0.0.1:8081`, `[::]:8443`, `localhost:80` or `:8081` (every IPv4 address).
    Raises ValueError with the problem, worded for a person."""
    host, colon, port_text = text.strip().rpartition(":")
    if not colon or not port_text.isdigit():
        raise ValueError(f"{text!r} is not ADDRESS:PORT (IPv6 as [::1]:PORT)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        _check_ipv6(host, text)
    elif ":" in host:
        raise ValueError(f"{text!r}: an IPv6 address goes in brackets, as [{host}]:{port_text}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"{text!r}: {port} is not a TCP port")
    return Listener(host or "0.0.0.0", port, tls)


def _check_ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(listener: Listener) -> socket.socket:
    """A listening, non-blocking socket for `listener`; raises OSError naming the address."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            listener.host or None, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"{listener.address}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{listener.address}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def bound(listener: Listener, sock: socket.socket) -> Listener:
    """`listener` with the port the socket got (port 0 asks for any free one)."""
    return Listener(listener.host, int(sock.getsockname()[1]), listener.tls)
