"""Fault injection: off by default, replaced at run time, scoped by path prefix."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.origin.conftest import Client

from .conftest import CONTENT, MakeClient

SEGMENT = "/vod/math-fractions/360p/seg_00000.ts"
SEGMENT_SIZE = (CONTENT / "math-fractions/360p/seg_00000.ts").stat().st_size


@pytest.fixture
async def faulty(make_client: MakeClient) -> Client:
    return await make_client(faults=True)


async def set_faults(client: Client, **settings: object) -> dict[str, object]:
    response = await client.post("/_faults", json=settings)
    assert response.status == 200, await response.text()
    answer: dict[str, object] = await response.json()
    return answer


async def test_faults_are_off_by_default(client: Client) -> None:
    assert (await client.get("/_faults")).status == 404
    assert (await client.post("/_faults", json={"error_rate": 1.0})).status == 404


async def test_settings_round_trip(faulty: Client) -> None:
    defaults = await (await faulty.get("/_faults")).json()
    assert defaults == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "error_status": 503,
        "truncate_rate": 0.0,
        "bytes_per_second": 0,
        "path_prefix": "",
    }
    shown = await set_faults(faulty, error_rate=0.5, path_prefix="/vod/")
    assert shown["error_rate"] == 0.5 and shown["latency_ms"] == 0  # replaced, not merged


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error_rate": 2}, "error_rate and truncate_rate must be between 0 and 1"),
        ({"latency_ms": "slow"}, "fault setting 'latency_ms' must be a int"),
        ({"colour": 1}, "unknown fault setting 'colour'"),
        ([1, 2], "fault settings must be a JSON object"),
        ({"error_status": 200}, "error_status must be a 4xx or 5xx status"),
    ],
)
async def test_bad_settings_are_400(faulty: Client, body: object, reason: str) -> None:
    response = await faulty.post("/_faults", json=body)
    assert response.status == 400
    assert await response.text() == f"400: {reason}\n"


async def test_errors_only_under_the_prefix(faulty: Client) -> None:
    await set_faults(faulty, error_rate=1.0, error_status=502, path_prefix="/vod/")
    response = await faulty.get(SEGMENT)
    assert response.status == 502
    assert await response.text() == "502: injected fault\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert (await faulty.get("/live/grade-5/master.m3u8")).status == 200
    assert (await faulty.get("/_stats")).status == 200
    await set_faults(faulty)
    assert (await faulty.get(SEGMENT)).status == 200


async def test_latency(faulty: Client) -> None:
    await set_faults(faulty, latency_ms=300)
    started = time.monotonic()
    assert (await faulty.get("/healthz")).status == 200  # control paths are never delayed
    assert (await faulty.get(SEGMENT)).status == 200
    assert time.monotonic() - started >= 0.3


async def test_truncated_body_keeps_the_full_content_length(faulty: Client) -> None:
    await set_faults(faulty, truncate_rate=1.0)
    response = await faulty.get(SEGMENT)
    assert response.headers["Content-Length"] == str(SEGMENT_SIZE)
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    await set_faults(faulty)
    assert len(await (await faulty.get(SEGMENT)).read()) == SEGMENT_SIZE  # still serving


async def test_slow_bodies_arrive_in_pieces(faulty: Client) -> None:
    await set_faults(faulty, bytes_per_second=200_000, path_prefix="/vod/")
    started = time.monotonic()
    response = await faulty.get(SEGMENT)
    first = await response.content.readany()
    first_at = time.monotonic() - started
    rest = await response.read()
    total = time.monotonic() - started
    assert len(first) + len(rest) == SEGMENT_SIZE
    assert len(first) < SEGMENT_SIZE and first_at < total / 2
    assert total >= SEGMENT_SIZE / 200_000 * 0.8


async def test_seeded_error_rate_is_reproducible(faulty: Client) -> None:
    await set_faults(faulty, error_rate=0.5, path_prefix="/vod/")
    statuses = [(await faulty.head(SEGMENT)).status for _ in range(40)]
    assert 503 in statuses and 200 in statuses
