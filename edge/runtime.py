"""Process set-up shared by a lone edge and a node's workers: GC, descriptors, stop signals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import signal

GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)


def tune_gc() -> None:
    """Leave what start-up made out of every collection, and collect the young generation
    less often: each hit allocates a few short-lived objects, and with the default thresholds
    the collector cost about 3 µs of a 15 µs playlist hit (measured with wrk, BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def raise_fd_limit() -> None:
    """Hot entries keep descriptors open; take the hard limit rather than a 1024 soft one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def stop_event(
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> asyncio.Event:
    """An event set by any of `signals`, from now on (install it before start-up work)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    return stopping
