from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge.app import build_app
from edge.config import build
from tests.edge.fakes import FakeClock, ScriptedUpstream

EdgeFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


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
    clients: list[TestClient[Any, Any]] = []

    async def start(cache_dir: Path | None = None, **settings: Any) -> TestClient[Any, Any]:
        config = build(
            {
                "upstreams": [upstream[1]],
                "cache_dir": str(cache_dir or tmp_path / "cache"),
                "retries": 0,
                "prefetch_segments": 0,
                "node_id": "classcast-edge",
                **settings,
            }
        )
        client = TestClient(TestServer(build_app(config, clock=clock), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def edge(make_edge: EdgeFactory) -> TestClient[Any, Any]:
    return await make_edge()
