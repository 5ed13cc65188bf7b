"""Request heads seen before, byte for byte, are not parsed again (edge/http/seen.py): the
answers must be the ones the parser would have led to. A real edge on loopback, raw sockets."""

from __future__ import annotations

import asyncio

from edge.http.seen import SeenHeads
from tests.edge.fakes import EdgeClient, ScriptedUpstream
from tests.support.wait import until

PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg.ts\n#EXT-X-ENDLIST\n"
M3U8 = {"Content-Type": "application/vnd.apple.mpegurl"}
HEAD = b"GET /vod/a/index.m3u8 HTTP/1.1\r\nHost: edge\r\n\r\n"


def seen(edge: EdgeClient) -> SeenHeads:
    return edge.edge.server.seen_heads


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split()[1])
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:"))
    return status, await reader.readexactly(length)


async def opened(edge: EdgeClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(edge.host, edge.port)


async def test_a_head_seen_before_is_answered_as_the_parser_would(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/index.m3u8", PLAYLIST, headers=M3U8)
    reader, writer = await opened(edge)
    for _ in range(3):
        writer.write(HEAD)
        assert await read_answer(reader) == (200, PLAYLIST)
    assert seen(edge).hits == 2 and len(seen(edge)) == 1
    # another request on the same connection after remembered ones: the parser is in step
    writer.write(b"GET /vod/a/missing.m3u8 HTTP/1.1\r\nHost: edge\r\n\r\n")
    assert (await read_answer(reader))[0] == 404
    writer.write(HEAD)
    assert await read_answer(reader) == (200, PLAYLIST)
    assert seen(edge).hits == 3
    writer.close()
    # the same bytes on another connection
    reader, writer = await opened(edge)
    writer.write(HEAD)
    assert await read_answer(reader) == (200, PLAYLIST)
    assert seen(edge).hits == 4
    writer.close()


async def test_only_whole_plain_heads_in_one_read_are_remembered(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/index.m3u8", PLAYLIST, headers=M3U8)
    reader, writer = await opened(edge)
    writer.write(HEAD + HEAD)  # pipelined: two in one read
    await writer.drain()
    assert await read_answer(reader) == (200, PLAYLIST)
    assert await read_answer(reader) == (200, PLAYLIST)
    writer.write(HEAD[:20])  # a head in two reads
    await writer.drain()
    server = edge.edge.server
    await until(lambda: any(c.in_head for c in server.connections), 2, "the first part read")
    writer.write(HEAD[20:])
    assert await read_answer(reader) == (200, PLAYLIST)
    assert len(seen(edge)) == 0
    post = b"POST /vod/a/index.m3u8 HTTP/1.1\r\nHost: edge\r\nContent-Length: 0\r\n\r\n"
    writer.write(post)
    assert (await read_answer(reader))[0] == 200  # passed upstream (RFC 9111 4.4)
    writer.write(post)
    assert (await read_answer(reader))[0] == 200
    assert len(seen(edge)) == 0 and seen(edge).hits == 0
    writer.close()


async def test_a_head_that_closes_the_connection_is_not_remembered(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].put("/vod/a/index.m3u8", PLAYLIST, headers=M3U8)
    closing = HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    for _ in range(2):
        reader, writer = await opened(edge)
        writer.write(closing)
        assert await read_answer(reader) == (200, PLAYLIST)
        assert await reader.read() == b""  # closed after the answer
        writer.close()
    assert len(seen(edge)) == 0 and seen(edge).hits == 0


async def test_a_remembered_head_carries_its_own_headers(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """A conditional request seen before is still conditional: 304 every time."""
    upstream[0].put(
        "/vod/a/index.m3u8",
        PLAYLIST,
        headers={"Content-Type": "application/vnd.apple.mpegurl", "ETag": '"p1"'},
    )
    reader, writer = await opened(edge)
    writer.write(HEAD)
    assert await read_answer(reader) == (200, PLAYLIST)
    conditional = HEAD.replace(b"\r\n\r\n", b'\r\nIf-None-Match: "p1"\r\n\r\n')
    for _ in range(3):
        writer.write(conditional)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 304 ")
    assert seen(edge).hits == 2
    writer.close()


async def test_a_stored_answer_keeping_its_origins_date_has_one_date_line(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    """A non-HLS object keeps its origin's Date (RFC 9110 6.6.1): the keep-alive hit, answered
    from the prebuilt head (edge/http/prebuilt.py), must not add the edge's own beside it."""
    date = "Tue, 01 Dec 2026 10:00:00 GMT"
    headers = {"Content-Type": "text/plain", "Cache-Control": "max-age=600", "Date": date}
    upstream[0].put("/docs/a.txt", b"hello\n", headers=headers)
    reader, writer = await opened(edge)
    for _ in range(3):
        writer.write(b"GET /docs/a.txt HTTP/1.1\r\nHost: edge\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert await reader.readexactly(6) == b"hello\n"
        assert head.lower().count(b"\r\ndate:") == 1, head
        assert f"Date: {date}".encode() in head, head
    assert b"X-Cache: HIT" in head
    writer.close()
