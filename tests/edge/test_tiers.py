"""Tiers: an edge in front of a shield in front of the origin; failover; a circle is a 508."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from edge.config import build
from tests.edge.fakes import EdgeClient, EdgeClients, ScriptedUpstream, free_port_url

Start = Callable[..., Awaitable[EdgeClient]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    clients = EdgeClients()

    async def run(name: str, upstreams: list[str], port: int = 0, **settings: Any) -> EdgeClient:
        config = build(
            {
                "upstreams": upstreams,
                "cache_dir": str(tmp_path / name),
                "node_id": name,
                "port": port,
                "access_log": False,
                **settings,
            }
        )
        return await clients.start(config)

    yield run
    await clients.close()


async def test_edge_shield_origin_chain_and_failover(
    start: Start, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, origin = upstream
    fake.put("/v/s.ts", b"s" * 50_000, headers={"Content-Type": "video/mp2t"})
    shield = await start("shield", [origin])
    dead = "http://127.0.0.1:9"
    edge = await start("edge", [dead, str(shield.make_url("")).rstrip("/")], retries=2)
    for _ in range(3):
        answer = await edge.get("/v/s.ts")
        assert answer.status == 200
        assert await answer.read() == b"s" * 50_000
    assert fake.hits["/v/s.ts"] == 1  # one origin fetch for the whole chain
    assert fake.seen_headers[-1]["Via"] == "1.1 edge, 1.1 shield"


async def test_tiers_configured_in_a_circle_answer_508(start: Start) -> None:
    url_a, port_a = free_port_url()
    url_b, port_b = free_port_url()
    a = await start("a", [url_b], port=port_a)
    await start("b", [url_a], port=port_b)
    answer = await a.get("/v/s.ts")
    assert answer.status == 508
