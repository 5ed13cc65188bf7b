"""The single-flight registry on its own: fills that are awaited, not polled."""

from __future__ import annotations

import asyncio

from edge.cache.flight import Fill, FillRegistry
from edge.cache.keys import cache_key


async def test_idle_returns_when_the_last_fill_ends_and_not_before() -> None:
    registry = FillRegistry()
    await asyncio.wait_for(registry.idle(), 1)  # nothing runs: at once
    release = {name: asyncio.Event() for name in ("/v/a.ts", "/v/b.ts")}
    ended: list[str] = []

    async def run(fill: Fill) -> None:
        await release[fill.key.path].wait()
        ended.append(fill.key.path)
        fill.finish("stored")

    first, _ = registry.join_or_start(cache_key("/v/a.ts"), "segment", run)
    registry.join_or_start(cache_key("/v/b.ts"), "segment", run)
    idle = asyncio.create_task(registry.idle())
    release["/v/a.ts"].set()
    assert await first.finished == "stored"
    assert len(registry) == 1 and not idle.done()  # one fill still runs: not idle yet
    release["/v/b.ts"].set()
    await asyncio.wait_for(idle, 1)
    assert ended == ["/v/a.ts", "/v/b.ts"] and len(registry) == 0
