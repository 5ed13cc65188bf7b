"""Link shapes: what each kind of link gets from `tc`, and why those figures.

Rates are shaped with `tbf` on both ends of each veth (the host's side shapes its uplink, the
bridge's side its downlink). Delay needs `netem` (sch_netem), which some kernels lack: then links
are undelayed, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loadtest.city.topology import Role

Access = Literal["iptv", "5g"]
ACCESS_KINDS: tuple[Access, ...] = ("iptv", "5g")


@dataclass(frozen=True, slots=True)
class Shape:
    down_mbit: float  # towards the host
    up_mbit: float  # from the host
    delay_ms: float  # one way, applied only where netem exists
    why: str


# Core links, the same for both access networks.
CORE: dict[Role, Shape] = {
    "origin": Shape(1000, 1000, 1.0, "origin in a data centre on 1 GbE: it only feeds the shields"),
    "shield": Shape(10000, 10000, 1.0, "shields at the metro core on 10 GbE"),
    "edge": Shape(10000, 10000, 1.0, "edges at metro points of presence on 10 GbE"),
    "ops": Shape(1000, 1000, 0.0, "monitoring host"),
}
# A viewer host stands for one access aggregation point and all the viewers behind it.
ACCESS: dict[Access, Shape] = {
    "iptv": Shape(
        2488,
        1244,
        2.0,
        "one GPON port (ITU-T G.984: 2.488 Gbit/s down, 1.244 up) shared by up to 64 homes "
        "with set-top boxes; managed access, a few ms to the edge",
    ),
    "5g": Shape(
        1000,
        100,
        10.0,
        "one 5G NR mid-band cell sector (100 MHz at 3.5 GHz: about 1 Gbit/s down and 100 Mbit/s "
        "up shared by its phones); about 10 ms over the air and the mobile core",
    ),
}


def shape_for(role: Role, access: Access) -> Shape:
    return ACCESS[access] if role == "viewers" else CORE[role]


def burst_bytes(mbit: float) -> int:
    """tbf needs a bucket of at least rate / HZ; 10 ms of traffic, and never under 256 KB so
    one 64 KB GSO packet always fits."""
    return max(256 * 1024, int(mbit * 1e6 / 8 / 100))


def tbf_args(mbit: float) -> list[str]:
    return ["tbf", "rate", f"{mbit:g}mbit", "burst", str(burst_bytes(mbit)), "latency", "50ms"]


def qdisc_commands(device: str, mbit: float, delay_ms: float, netem: bool) -> list[list[str]]:
    """`tc` arguments (after `tc -n NS`) that shape one direction of one link."""
    if netem and delay_ms > 0:
        return [
            [
                "qdisc",
                "add",
                "dev",
                device,
                "root",
                "handle",
                "1:",
                "netem",
                "delay",
                f"{delay_ms:g}ms",
            ],
            ["qdisc", "add", "dev", device, "parent", "1:1", "handle", "10:", *tbf_args(mbit)],
        ]
    return [["qdisc", "add", "dev", device, "root", *tbf_args(mbit)]]
