"""Who the viewers are: cohort by mix, start time by ramp, and the model for each."""

from __future__ import annotations

import time

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


def make_viewer(
    config: RunConfig, index: int, session_number: int, now: float, cohort: str | None = None
) -> ViewerSession:
    """The model for a viewer; its cohort comes from the mix unless given (Locust's user class)."""
    cohort = cohort or cohort_of(index, config.mix)
    if cohort == "phone":
        seed = config.seed * 1_000_003 + index * 7919 + session_number
        return PhoneSession(
            config.target, now, make_profile(config.phone_bandwidth, seed), config.session
        )
    if cohort == "ll":
        # the engine's clock is monotonic; latency behind live needs the wall clock
        wall_offset = time.time() - time.monotonic()
        return LowLatencySession(
            config.target, now, config.stb_rendition, config.session, wall_offset
        )
    return make_set_top_box(config.target, now, config.stb_rendition, config.session)
