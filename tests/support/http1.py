"""A bare HTTP/1.1 client for e2e tests: it knows whether a connection was reused, whether any
byte of a response arrived, and whether a body arrived whole (HTTP clients hide all three)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

READ_PIECE = 64 * 1024


class NoResponse(ConnectionError):
    """The connection closed or reset before any byte of a response arrived."""


@dataclass(frozen=True)
class Reply:
    status: int  # 0: the connection ended inside the head
    headers: dict[str, str]  # names lower-cased
    body: bytes
    complete: bool  # all of Content-Length (or the last chunk) arrived

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.headers.items() if k in ("x-cache", "content-length")}
        return f"<Reply {self.status} {shown} {len(self.body)} bytes complete={self.complete}>"


class Connection:
    """One client connection, kept alive between requests unless told otherwise."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._answered = 0  # responses read on the current socket

    @property
    def is_reused(self) -> bool:
        return self._streams is not None and self._answered > 0

    async def get(
        self, target: str, *, keep_alive: bool = True, on_body: asyncio.Event | None = None
    ) -> Reply:
        """Send GET `target` exactly as written. Raises NoResponse if the connection ended before
        any byte of the response, OSError if a fresh connection could not be opened."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
            self._answered = 0
        reader, writer = self._streams
        head = f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if not keep_alive:
            head += "Connection: close\r\n"
        try:
            try:
                writer.write(head.encode("latin-1") + b"\r\n")
                await writer.drain()
            except OSError as error:
                raise NoResponse(f"write failed: {error!r}") from error
            reply = await read_reply(reader, on_body)
        except BaseException:
            await self.close()
            raise
        self._answered += 1
        if not keep_alive or not reply.complete or reply.headers.get("connection") == "close":
            await self.close()
        return reply

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def fetch(port: int, target: str, *, on_body: asyncio.Event | None = None) -> Reply:
    """GET on a fresh loopback connection of its own (so the kernel picks the worker)."""
    connection = Connection("127.0.0.1", port)
    try:
        return await connection.get(target, keep_alive=False, on_body=on_body)
    finally:
        await connection.close()


async def read_reply(reader: asyncio.StreamReader, on_body: asyncio.Event | None) -> Reply:
    try:
        first = await reader.read(1)
    except OSError as error:
        raise NoResponse(f"read failed: {error!r}") from error
    if not first:
        raise NoResponse("closed before any byte of a response")
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, OSError):
        return Reply(0, {}, b"", complete=False)
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    if "content-length" in headers:
        body, complete = await _read_length(reader, int(headers["content-length"]), on_body)
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body, complete = await _read_chunked(reader, on_body)
    else:  # delimited by the close (RFC 9112 6.3, rule 8): whatever arrives is the body
        body, complete = await reader.read(), True
    return Reply(status, headers, body, complete)


async def _read_length(
    reader: asyncio.StreamReader, length: int, on_body: asyncio.Event | None
) -> tuple[bytes, bool]:
    body = bytearray()
    try:
        while len(body) < length:
            piece = await reader.read(min(READ_PIECE, length - len(body)))
            if not piece:
                break
            body += piece
            if on_body is not None:
                on_body.set()
    except OSError:
        pass
    return bytes(body), len(body) == length


async def _read_chunked(
    reader: asyncio.StreamReader, on_body: asyncio.Event | None
) -> tuple[bytes, bool]:
    body = bytearray()
    try:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
            if on_body is not None:
                on_body.set()
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
            pass
    except (asyncio.IncompleteReadError, OSError, ValueError):
        return bytes(body), False
    return bytes(body), True
