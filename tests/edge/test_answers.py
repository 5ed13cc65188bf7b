"""Range, HEAD, conditionals, CORS and bad input, answered from the cache (RAM and disk)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, ScriptedUpstream, raw_request, settle

SEGMENT = os.urandom(300_000)
PLAYLIST = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n" + b"#EXTINF:4.0,\nseg.ts\n" * 20 + b"#EXT-X-ENDLIST\n"
)
LAST_MODIFIED = "Thu, 26 Nov 2026 10:00:00 GMT"
OBJECTS = {
    "/v/seg.ts": (
        SEGMENT,
        {"Content-Type": "video/mp2t", "ETag": '"s1"', "Last-Modified": LAST_MODIFIED},
    ),
    "/v/index.m3u8": (PLAYLIST, {"Content-Type": "application/vnd.apple.mpegurl", "ETag": '"p1"'}),
}


@pytest.fixture
async def warm_edge(edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]) -> EdgeClient:
    fake, _ = upstream
    for path, (body, headers) in OBJECTS.items():
        fake.put(path, body, headers=headers)
        assert await (await edge.get(path)).read() == body
    return edge


@pytest.mark.parametrize("path", list(OBJECTS))
@pytest.mark.parametrize(
    ("range_header", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=100-", 100, None),
        ("bytes=-50", -50, None),
        ("bytes=5-5", 5, 6),
    ],
)
async def test_range_from_cache(
    warm_edge: EdgeClient, path: str, range_header: str, start: int, stop: int | None
) -> None:
    body = OBJECTS[path][0]
    response = await warm_edge.get(path, headers={"Range": range_header})
    expected = body[start:stop]
    assert response.status == 206
    assert await response.read() == expected
    first = start % len(body)
    assert (
        response.headers["Content-Range"]
        == f"bytes {first}-{first + len(expected) - 1}/{len(body)}"
    )
    assert response.headers["X-Cache"] == "HIT"


@pytest.mark.parametrize("path", list(OBJECTS))
async def test_unsatisfiable_range_is_416(warm_edge: EdgeClient, path: str) -> None:
    response = await warm_edge.get(path, headers={"Range": "bytes=99999999-"})
    assert response.status == 416
    assert "past the end" in await response.text()
    assert response.headers["Content-Range"] == f"bytes */{len(OBJECTS[path][0])}"


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=9-3", "bytes=-"])
async def test_malformed_range_is_400_with_reason(warm_edge: EdgeClient, header: str) -> None:
    response = await warm_edge.get("/v/seg.ts", headers={"Range": header})
    assert response.status == 400
    assert "malformed Range header" in await response.text()


async def test_if_range_mismatch_sends_the_whole_body(warm_edge: EdgeClient) -> None:
    response = await warm_edge.get("/v/seg.ts", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert response.status == 200
    assert await response.read() == SEGMENT


@pytest.mark.parametrize("path", list(OBJECTS))
async def test_head_has_headers_and_no_body(warm_edge: EdgeClient, path: str) -> None:
    response = await warm_edge.head(path)
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(OBJECTS[path][0])
    assert await response.read() == b""


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v/seg.ts", {"If-None-Match": '"s1"'}),
        ("/v/seg.ts", {"If-None-Match": 'W/"s1", "x"'}),
        ("/v/seg.ts", {"If-Modified-Since": LAST_MODIFIED}),
        ("/v/index.m3u8", {"If-None-Match": '"p1"'}),
    ],
)
async def test_conditionals_answered_304_from_cache(
    warm_edge: EdgeClient,
    upstream: tuple[ScriptedUpstream, str],
    path: str,
    headers: dict[str, str],
) -> None:
    response = await warm_edge.get(path, headers=headers)
    assert response.status == 304
    assert await response.read() == b""
    assert upstream[0].hits[path] == 1  # never forwarded


async def test_changed_etag_gets_the_body(warm_edge: EdgeClient) -> None:
    response = await warm_edge.get("/v/seg.ts", headers={"If-None-Match": '"s0"'})
    assert response.status == 200


async def test_cors_preflight_and_method_not_allowed(edge: EdgeClient) -> None:
    preflight = await edge.options(
        "/v/seg.ts",
        headers={"Origin": "https://player.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Range" in preflight.headers["Access-Control-Allow-Headers"]
    post = await edge.post("/v/seg.ts", data=b"x")
    assert post.status == 404  # passed to the upstream, which has no such thing to post to
    assert "Allow" not in post.headers


@pytest.mark.parametrize(
    ("target", "status", "reason"),
    [
        ("/vod/../etc/passwd", 400, "path traversal"),
        ("/vod/%2e%2e/%2e%2e/etc/passwd", 400, "path traversal"),
        ("/vod/a%2f..%2f..%2fetc", 400, "encoded slash"),
        ("/vod/a%00.ts", 400, "NUL"),
        ("/" + "a" * 3000, 414, "longer than"),
    ],
)
async def test_bad_paths_get_4xx_with_a_reason(
    edge: EdgeClient,
    upstream: tuple[ScriptedUpstream, str],
    target: str,
    status: int,
    reason: str,
) -> None:
    status_got, body = await raw_request(edge.host, edge.port, target)
    assert status_got == status
    assert reason in body.decode()
    assert not upstream[0].hits
    assert (await edge.get("/healthz")).status == 200


async def test_oversized_header_is_4xx_and_the_edge_stays_up(edge: EdgeClient) -> None:
    response = await edge.get("/v/seg.ts", headers={"X-Big": "a" * 20_000})
    assert 400 <= response.status < 500
    assert (await edge.get("/healthz")).status == 200


async def test_via_loop_is_508(edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]) -> None:
    upstream[0].put("/v/seg.ts", SEGMENT, headers=OBJECTS["/v/seg.ts"][1])
    other_tier = await edge.get("/v/seg.ts", headers={"Via": "1.1 classcast-edge-shield-1"})
    assert other_tier.status == 200  # another node's name that merely starts like ours
    response = await edge.get("/v/seg.ts", headers={"Via": "1.1 other, 1.1 classcast-edge"})
    assert response.status == 508
    assert "loop" in (await response.text()).lower() or "already passed" in await response.text()


async def test_disk_hits_use_zero_copy_and_copy_fallback_gives_the_same_bytes(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], tmp_path: Any
) -> None:
    upstream[0].put("/v/seg.ts", SEGMENT, headers=OBJECTS["/v/seg.ts"][1])
    for sendfile, counter in ((True, "zero_copy_bytes"), (False, "copied_bytes")):
        edge = await make_edge(cache_dir=tmp_path / f"c{sendfile}", sendfile=sendfile)
        miss = await edge.get("/v/seg.ts")  # streams from the growing temp file: same path
        assert await miss.read() == SEGMENT
        await settle(edge)
        whole = await edge.get("/v/seg.ts")
        part = await edge.get("/v/seg.ts", headers={"Range": "bytes=1000-2999"})
        assert await whole.read() == SEGMENT
        assert await part.read() == SEGMENT[1000:3000]
        sends = edge.sends
        assert getattr(sends, counter) == 2 * len(SEGMENT) + 2000
        assert edge.stats.requests["HIT"] == 2
