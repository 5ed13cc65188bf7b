"""The real ticker: on the wall clock's second, again and again, until stopped."""

from __future__ import annotations

import asyncio

import pytest

from classcast.clock import FakeClock
from edge.http.ticker import SecondTicker


async def test_the_tick_comes_on_the_next_second_and_repeats_until_stopped() -> None:
    wall = FakeClock(41.999)  # a millisecond before the second: the tick is 2 ms away
    ticks: list[float] = []
    two = asyncio.Event()

    def tick() -> None:
        ticks.append(wall())
        wall.advance(0.999)  # the next one: 2 ms away again
        if len(ticks) == 2:
            two.set()

    ticker = SecondTicker(wall)
    ticker.start(tick)
    async with asyncio.timeout(5):
        await two.wait()
    ticker.stop()
    assert ticks == pytest.approx([41.999, 42.998])
