"""Messages between a node's supervisor and its workers, over one socketpair per worker.

A frame is two big-endian 32-bit lengths, a JSON header (orjson) and a raw payload (a small
object's body, never base64). Frames arrive in the order they were sent, which the protocol
leans on: what the supervisor says before a reply is known to the worker when the reply comes.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Any, cast

import orjson

log = logging.getLogger("edge.node")

Message = dict[str, Any]
FRAME = struct.Struct("!II")
MAX_FRAME = 64 * 1024**2  # a body the RAM tier may hold, with room for its metadata


def encode(message: Message, payload: bytes = b"") -> bytes:
    head = orjson.dumps(message)
    return FRAME.pack(len(head), len(payload)) + head + payload


class Channel(asyncio.Protocol):
    """One end of a socketpair: `send` frames, `on_message` for each frame received."""

    def __init__(
        self, on_message: Callable[[Message, bytes], None], on_lost: Callable[[], None]
    ) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.on_lost()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, message: Message, payload: bytes = b"") -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode(message, payload))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= FRAME.size:
            head_len, payload_len = FRAME.unpack_from(buffer, offset)
            if head_len + payload_len > MAX_FRAME:
                log.error("node message too large; closing the channel")
                self.close()
                return
            end = offset + FRAME.size + head_len + payload_len
            if len(buffer) < end:
                break
            start = offset + FRAME.size
            message = orjson.loads(bytes(buffer[start : start + head_len]))
            payload = bytes(buffer[start + head_len : end])
            offset = end
            try:
                self.on_message(message, payload)
            except Exception:  # one bad message must not take the channel down
                log.exception("node message failed", extra={"type": message.get("t")})
        del buffer[:offset]


async def open_channel(
    sock: Any, on_message: Callable[[Message, bytes], None], on_lost: Callable[[], None]
) -> Channel:
    loop = asyncio.get_running_loop()
    _, channel = await loop.connect_accepted_socket(lambda: Channel(on_message, on_lost), sock)
    return channel
