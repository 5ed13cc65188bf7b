"""One end of a socketpair between a node's supervisor and a worker: messages out and in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from edge.node.messages import BadMessage, Message, decode, encode, frames

log = logging.getLogger("edge.node")


class Channel(asyncio.Protocol):
    """`send` messages; `on_message` for each one received. A frame that is no message is
    logged and counted (`bad_messages`) and the next one read; an oversized frame closes the
    channel, as its end can no longer be found."""

    def __init__(self, on_message: Callable[[Message], None], on_lost: Callable[[], None]) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.bad_messages = 0
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.on_lost()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, message: Message) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            found, used = frames(self._buffer)
        except BadMessage as exc:
            self._bad(exc)
            self.close()
            return
        del self._buffer[:used]
        for head, payload in found:
            try:
                message = decode(head, payload)
            except BadMessage as exc:
                self._bad(exc)
                continue
            try:
                self.on_message(message)
            except BadMessage as exc:  # a message the receiver has no use for
                self._bad(exc)
            except Exception:  # one message that fails must not take the channel down
                log.exception("node message failed", extra={"type": type(message).__name__})

    def _bad(self, error: BadMessage) -> None:
        self.bad_messages += 1
        log.error("bad node message", extra={"error": str(error)})


async def open_channel(
    sock: Any, on_message: Callable[[Message], None], on_lost: Callable[[], None]
) -> Channel:
    loop = asyncio.get_running_loop()
    _, channel = await loop.connect_accepted_socket(lambda: Channel(on_message, on_lost), sock)
    return channel
