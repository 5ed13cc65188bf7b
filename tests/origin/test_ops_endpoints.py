"""/readyz and /metrics: what Kubernetes probes and Prometheus scrapes read from the origin."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from origin.app import make_app
from origin.library import Library
from tests.origin.conftest import MakeClient, sample_config


async def test_readyz_is_ok_with_a_library(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/readyz")
    assert (response.status, await response.text()) == (200, "ok\n")
    assert response.headers["Cache-Control"] == "no-store"


async def test_readyz_is_503_with_an_empty_library(tmp_path: Path) -> None:
    library = Library(tmp_path, time.monotonic, rescan_interval=1.0)
    library.scan()  # an empty or unmounted content volume
    app = make_app(sample_config(), library, {})
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")
        assert (response.status, await response.text()) == (503, "no lessons\n")
        assert (await client.get("/healthz")).status == 200  # alive, just not ready


async def test_metrics_count_requests_by_kind(make_client: MakeClient) -> None:
    client = await make_client()
    for path in (
        "/vod/math-fractions/master.m3u8",
        "/vod/math-fractions/180p/seg_00000.ts",
        "/vod/math-fractions/180p/seg_00001.ts",
        "/api/lessons",
    ):
        assert (await client.get(path)).status == 200
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    lines = set((await response.text()).splitlines())
    assert 'classcast_origin_requests_total{kind="segment"} 2.0' in lines
    assert 'classcast_origin_requests_total{kind="playlist"} 1.0' in lines
    assert 'classcast_origin_requests_total{kind="api"} 1.0' in lines
