from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from edge.config import build
from tests.edge.fakes import EdgeClient, EdgeClients, FakeClock, ScriptedUpstream

EdgeFactory = Callable[..., Awaitable[EdgeClient]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[ScriptedUpstream, str]]:
    fake = ScriptedUpstream()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def make_edge(
    upstream: tuple[ScriptedUpstream, str], tmp_path: Path, clock: FakeClock
) -> AsyncIterator[EdgeFactory]:
    clients = EdgeClients()

    async def start(cache_dir: Path | None = None, **settings: Any) -> EdgeClient:
        config = build(
            {
                "upstreams": [upstream[1]],
                "cache_dir": str(cache_dir or tmp_path / "cache"),
                "retries": 0,
                "prefetch_segments": 0,
                "node_id": "classcast-edge",
                "port": 0,
                "access_log": False,
                **settings,
            }
        )
        return await clients.start(config, clock=clock)

    yield start
    await clients.close()


@pytest.fixture
async def edge(make_edge: EdgeFactory) -> EdgeClient:
    return await make_edge()
