"""Bad requests get a clear 4xx with a reason, never a 500, and the service stays up."""

from __future__ import annotations

import pytest

from tests.origin.conftest import Client

from .conftest import get_raw, raw_request


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/vod/../etc/passwd", 400, "400: path traversal ('..') in path"),
        ("/vod/math-fractions/../../config/origin.toml", 400, "400: path traversal ('..') in path"),
        ("/vod/math-fractions/%2e%2e/%2e%2e/etc/passwd", 400, "400: path traversal ('..') in path"),
        ("/vod/%2E%2E/x.ts", 400, "400: path traversal ('..') in path"),
        ("/vod/math-fractions/..%2f..%2fetc%2fpasswd", 400, "400: encoded slash in path"),
        ("/vod/math-fractions%2F360p/index.m3u8", 400, "400: encoded slash in path"),
        ("/vod/math-fractions/360p/seg_00000.ts%00.m3u8", 400, "400: NUL byte in path"),
        ("/vod/math-fractions/360p%5cindex.m3u8", 400, "400: encoded slash in path"),
        ("/vod/math-fractions/%ff.ts", 400, "400: percent-encoded path is not UTF-8"),
        ("/vod/astronomy/master.m3u8", 404, "404: unknown lesson 'astronomy'"),
        (
            "/vod/math-fractions/1080p/index.m3u8",
            404,
            "404: no file '1080p/index.m3u8' in lesson 'math-fractions'",
        ),
        (
            "/vod/math-fractions/lesson.toml",
            404,
            "404: 'lesson.toml' is not a media file of lesson 'math-fractions'",
        ),
        (
            "/vod/math-fractions/360p",
            404,
            "404: '360p' is not a media file of lesson 'math-fractions'",
        ),
        ("/live/grade-99/master.m3u8", 404, "404: unknown channel 'grade-99'"),
        (
            "/live/grade-5/1080p/index.m3u8",
            404,
            "404: unknown rendition '1080p' of channel 'grade-5'",
        ),
        ("/api/lessons/astronomy", 404, "404: unknown lesson 'astronomy'"),
        ("/nothing/here", 404, "404: no such resource '/nothing/here'"),
        ("/_faults", 404, "404: no such resource '/_faults'"),  # faults are off by default
    ],
)
async def test_bad_paths(client: Client, path: str, status: int, reason: str) -> None:
    answer_status, body = await raw_request(client, get_raw(path))
    assert (answer_status, body.decode().strip()) == (status, reason)
    assert (await client.get("/healthz")).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_other_methods_get_405_with_allow(client: Client, method: str) -> None:
    response = await client.request(method, "/vod/math-fractions/master.m3u8")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert await response.text() == f"405: method {method} not allowed, use GET, HEAD, OPTIONS\n"


async def test_oversized_headers_get_a_4xx(client: Client) -> None:
    huge = "x" * 20_000
    head = (
        f"GET /healthz HTTP/1.1\r\nHost: origin\r\nX-Big: {huge}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _ = await raw_request(client, head)
    assert 400 <= status < 500
    long_line = get_raw("/vod/" + "a" * 20_000)
    status, _ = await raw_request(client, long_line)
    assert 400 <= status < 500
    assert (await client.get("/healthz")).status == 200


async def test_garbage_request_line(client: Client) -> None:
    status, _ = await raw_request(client, b"\x16\x03\x01 hello\r\n\r\n")
    assert status == 400
    assert (await client.get("/healthz")).status == 200


async def test_unknown_lesson_triggers_a_rescan_not_a_crash(client: Client) -> None:
    for _ in range(20):
        assert (await client.get("/vod/missing/master.m3u8")).status == 404
