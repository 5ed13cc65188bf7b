"""Process set-up shared by a lone edge and a node's workers: GC, descriptors, stop signals."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import resource
import signal

GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 4 * 1024**2  # blocks below this come from the heap, larger ones get a mapping
TRIM_THRESHOLD = 16 * 1024**2  # free heap kept for reuse before it goes back to the kernel


def tune_gc() -> None:
    """Leave what start-up made out of every collection, and collect the young generation
    less often: each hit allocates a few short-lived objects, and with the default thresholds
    the collector cost about 3 µs of a 15 µs playlist hit (measured with wrk, BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def tune_malloc() -> None:
    """Pin glibc's mmap threshold at 4 MiB and its trim threshold at 16 MiB.

    - Below 4 MiB, the copy path's blocks (256 KiB reads, the ciphertext of a TLS write, a
      2 MB segment's) come from the heap: mapped afresh, every new page is a fault and a
      zeroing, which halved the edge's throughput on hot 2 MB segments over TLS (issue 18).
    - Pinned, the threshold no longer rises by itself, and free heap beyond 16 MiB goes back
      to the system: a churning hot tier (edge/cache/hot.py) otherwise kept tens of MiB of
      freed segments in glibc's heaps (issue 21, edgebench hotset, long tail).

    Nothing happens where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(name).mallopt
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


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
