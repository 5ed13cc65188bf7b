"""The one place a test polls: for state in another process (a real server's answers, its log,
its children), which no event of ours can report. In one process, a test awaits an event."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.02


async def until(predicate: Callable[[], bool | Awaitable[bool]], within: float, what: str) -> float:
    """Ask `predicate` (sync or async) every POLL_S until it holds; returns the seconds that
    took. Fails naming `what` after `within` seconds."""
    started = time.monotonic()
    while not await _holds(predicate):
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(POLL_S)
    return time.monotonic() - started


def until_sync(
    predicate: Callable[[], bool], within: float, what: str, every: float = POLL_S
) -> float:
    """`until` for a test without an event loop (a blocking client, a subprocess)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(every)
    return time.monotonic() - started


async def _holds(predicate: Callable[[], bool | Awaitable[bool]]) -> bool:
    answer = predicate()
    return bool(await answer if inspect.isawaitable(answer) else answer)
