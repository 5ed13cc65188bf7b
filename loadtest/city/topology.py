"""Who is where: the hosts of a city, their addresses, ports and node ids, and which viewer host
watches through which edge. Pure: no I/O, so it is tested with tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["origin", "shield", "edge", "viewers", "ops"]

# RFC 2544 / RFC 5735 reserve 198.18.0.0/15 for benchmarking: never routed, so no address here
# can collide with a real network. Every host sits on one bridge (one metro L2 segment).
SUBNET_PREFIX = 16
ROLE_OCTET: dict[Role, int] = {"origin": 0, "ops": 0, "shield": 1, "edge": 2, "viewers": 3}
ORIGIN_PORT = 8080
EDGE_PORT = 8081
TLS_PORT = 8443  # shields' HTTPS listener (city --tls)
PROMETHEUS_PORT = 9090


@dataclass(frozen=True, slots=True)
class Host:
    role: Role
    index: int
    namespace: str
    address: str

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    @property
    def homes(self) -> str:
        """A viewer host's homes: the set-top boxes' own addresses (4,094 each, on the same
        segment), so an edge tells them apart as it would homes (issue 19). The first 12
        viewer hosts have them; more share their host's one address ("")."""
        if self.role != "viewers" or self.index >= 12:
            return ""
        return f"198.18.{64 + 16 * self.index}.0/20"

    @property
    def port(self) -> int:
        return ORIGIN_PORT if self.role == "origin" else EDGE_PORT

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"https://{self.address}:{TLS_PORT}"

    @property
    def node_id(self) -> str:
        """Distinct per node: namespaces share one hostname, so the edge's default id
        (classcast-edge-<hostname>-<port>) would be the same everywhere and look like a loop."""
        return f"city-{self.role}-{self.index}"

    @property
    def port_name(self) -> str:
        """The bridge side of this host's link (an interface name: at most 15 characters)."""
        return f"p-{self.role[0]}{self.index}" if self.role != "ops" else "p-ops"


@dataclass(frozen=True, slots=True)
class ViewerGroup:
    """Viewers on one viewer host that watch through one edge (their nearest)."""

    host: Host
    edge: Host
    viewers: int


@dataclass(frozen=True, slots=True)
class City:
    prefix: str
    origin: Host
    shields: tuple[Host, ...]
    edges: tuple[Host, ...]
    viewer_hosts: tuple[Host, ...]
    ops: Host

    @property
    def switch(self) -> str:
        return f"{self.prefix}sw"

    @property
    def hosts(self) -> tuple[Host, ...]:
        return (self.origin, *self.shields, *self.edges, *self.viewer_hosts, self.ops)


def host(prefix: str, role: Role, index: int) -> Host:
    last = 2 if role == "ops" else index + 1
    return Host(role, index, f"{prefix}{role}-{index}", f"198.18.{ROLE_OCTET[role]}.{last}")


def build_city(prefix: str, shields: int, edges: int, viewer_hosts: int) -> City:
    if not (1 <= shields <= 250 and 1 <= edges <= 250 and 1 <= viewer_hosts <= 250):
        raise ValueError("shields, edges and viewer hosts: 1 to 250 each")
    return City(
        prefix,
        host(prefix, "origin", 0),
        tuple(host(prefix, "shield", i) for i in range(shields)),
        tuple(host(prefix, "edge", i) for i in range(edges)),
        tuple(host(prefix, "viewers", i) for i in range(viewer_hosts)),
        host(prefix, "ops", 0),
    )


def viewer_groups(city: City, viewers: int) -> list[ViewerGroup]:
    """Viewers spread evenly over the edges; edge i is nearest to viewer host i mod H, as set-top
    boxes are assigned to the edge of their neighbourhood."""
    count = len(city.edges)
    groups = []
    for index, edge in enumerate(city.edges):
        share = viewers // count + (1 if index < viewers % count else 0)
        if share:
            groups.append(
                ViewerGroup(city.viewer_hosts[index % len(city.viewer_hosts)], edge, share)
            )
    return groups
