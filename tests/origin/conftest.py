"""Fixtures: the real origin app in process, on the committed sample library, at a chosen time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from classcast.clock import FakeClock as FakeClock  # re-exported for the tests
from origin.app import load_state, make_app
from origin.appkeys import Sleep
from origin.config import OriginConfig

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
SCHEDULE = ROOT / "config" / "schedule.toml"
HLS_JS = ROOT / "node_modules/hls.js/dist/hls.min.js"  # installed by scripts/setup (npm)
EPOCH = 1756713600.0  # 2025-09-01T08:00:00Z, the epoch of every channel in config/schedule.toml


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EPOCH + 1000.0)


def sample_config(**changes: object) -> OriginConfig:
    values: dict[str, object] = {
        "content": CONTENT,
        "schedule": SCHEDULE,
        "hls_js": HLS_JS,
        **changes,
    }
    return OriginConfig(**values)  # type: ignore[arg-type]


Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(clock: FakeClock) -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def factory(sleep: Sleep = asyncio.sleep, **changes: object) -> Client:
        config = sample_config(**changes)
        library, channels = load_state(config)
        app = make_app(config, library, channels, clock=clock, rng=random.Random(7), sleep=sleep)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


async def raw_request(client: Client, head: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no URL normalisation), return (status, body)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def get_raw(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n".encode()
