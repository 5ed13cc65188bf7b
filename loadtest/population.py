"""Who the viewers are: cohort by mix, start time by ramp, and the model for each."""

from __future__ import annotations

import ipaddress
import os
import time
from urllib.parse import urlsplit

from loadtest.bandwidth import make_profile
from loadtest.config import Mix, RunConfig
from loadtest.models.llhls import LowLatencySession
from loadtest.models.phone import PhoneSession
from loadtest.models.session import ViewerSession
from loadtest.models.stb import make_set_top_box

GOLDEN = 0.6180339887498949  # a low-discrepancy sequence keeps any prefix close to the mix


def cohort_of(index: int, mix: Mix) -> str:
    position = ((index + 0.5) * GOLDEN) % 1.0
    cumulative = 0.0
    for name, share in mix:
        cumulative += share
        if position < cumulative:
            return name
    return mix[-1][0]


def start_offset(index: int, viewers: int, ramp_s: float) -> float:
    """Viewer `index` joins at an even spacing over the ramp."""
    return ramp_s * index / viewers


def viewer_indices(worker: int, workers: int, viewers: int) -> range:
    """Worker w of n takes viewers w, w+n, w+2n...: every process ramps up at the same pace."""
    return range(worker, viewers, workers)


def target_of_viewer(config: RunConfig, index: int) -> str:
    """Viewers are spread over the targets (comma-separated master URLs) in turn."""
    targets = config.target.split(",")
    return targets[index % len(targets)].strip()


def home_address(index: int, target: str, homes: str = "") -> str:
    """A set-top box's home address: one of `homes` (a network the machine answers for: the
    city's viewer hosts), else on loopback each box has its own 127.x.y.z (from 127.1.0.1), as
    homes would; towards another host, the machine's own address ("")."""
    if homes:
        network = ipaddress.ip_network(homes)
        return str(network[1 + index % (network.num_addresses - 2)])
    host = urlsplit(target).hostname or ""
    try:
        if not ipaddress.ip_address(host).is_loopback or ":" in host:
            return ""
    except ValueError:
        return ""
    return f"127.{1 + index // 62500}.{index // 250 % 250}.{index % 250 + 1}"


def make_viewer(
    config: RunConfig, index: int, session_number: int, now: float, cohort: str | None = None
) -> ViewerSession:
    """The model for a viewer; its cohort comes from the mix unless given (Locust's user class)."""
    cohort = cohort or cohort_of(index, config.mix)
    target = target_of_viewer(config, index)
    if cohort == "phone":
        seed = config.seed * 1_000_003 + index * 7919 + session_number
        sid = f"lt-{config.seed}-{index}-{session_number}-{os.getpid()}"
        profile = make_profile(config.phone_bandwidth, seed)
        return PhoneSession(target, now, profile, config.session, sid)
    if cohort == "ll":
        # the engine's clock is monotonic; latency behind live needs the wall clock
        wall_offset = time.time() - time.monotonic()
        seed = config.seed * 1_000_003 + index * 7919 + session_number
        ll_profile = make_profile(config.ll_bandwidth, seed) if config.ll_bandwidth else None
        return LowLatencySession(
            target, now, config.stb_rendition, config.session, wall_offset, ll_profile
        )
    box = make_set_top_box(target, now, config.stb_rendition, config.session)
    box.source = home_address(index, target, config.homes)
    return box
