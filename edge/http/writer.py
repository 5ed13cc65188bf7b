"""Writing one connection's answers: bytes through the transport, files by `sendfile`.

An answer from memory is one `transport.write` of head and body. A file range goes out with
`os.sendfile` on a `dup()` of the socket (uvloop has no `loop.sendfile`, uvloop issue 228):
the head is flushed first, then the kernel copies until the socket is full (`EAGAIN`), and
`loop.add_writer` on the dup says when to go on. Flow control: while the transport says its
buffer is full (`pause_writing`), writers wait, so a slow reader never grows the edge's memory.
Every body byte that went out is counted in `bytes_sent` here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from typing import TYPE_CHECKING

from edge.http.messages import FileAnswer, FileRange, StreamAnswer
from edge.http.prebuilt import WHOLE_MAX, Prebuilt

if TYPE_CHECKING:
    from edge.http.server import ServerStats

READ_CHUNK = 256 * 1024  # fallback copy path (no sendfile): bytes per pread
# a body up to this size is joined to its head (one buffer, measured cheaper for playlists);
# a larger one (a hot segment held in RAM) goes out beside it in one writelines, uncopied
JOIN_MAX = WHOLE_MAX
NOWAIT = getattr(os, "RWF_NOWAIT", 0)  # Linux 4.14: read only what the page cache holds


class AnswerWriter:
    def __init__(
        self,
        transport: asyncio.Transport,
        stats: ServerStats,
        *,
        use_sendfile: bool,
        send_timeout: float,
    ) -> None:
        self.transport = transport
        self.stats = stats
        self.use_sendfile = use_sendfile
        self.send_timeout = send_timeout  # a reader that takes nothing for this long is dropped
        self.paused = False  # the transport's buffer is over its high-water mark
        self.gone = False  # the connection was lost
        self._sock_fd = -1  # a dup of the socket for sendfile, made on first use
        self._drained: asyncio.Future[None] | None = None

    # -- flow control (the transport's pause_writing / resume_writing) ----------------------------
    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake(None)

    def lost(self) -> None:
        """The connection is gone: wake a waiting writer with an error, drop the dup."""
        self.gone = True
        self._wake(ConnectionResetError("client went away"))
        if self._sock_fd >= 0:
            # the writer must go before the descriptor (epoll keeps a registration while any
            # descriptor of the socket lives); a send task cancelled before has not run yet
            asyncio.get_running_loop().remove_writer(self._sock_fd)
            os.close(self._sock_fd)
            self._sock_fd = -1

    # -- whole answers --------------------------------------------------------------------------
    def write_answer(self, head: bytes, body: bytes) -> None:
        """An answer from memory (`body` empty for HEAD and bodiless statuses)."""
        if body:
            if len(body) <= JOIN_MAX:
                self.transport.write(head + body)
            else:  # what the socket does not take is held by reference; pause_writing follows
                self.transport.writelines((head, body))
            self.stats.bytes_sent += len(body)
        else:
            self.transport.write(head)

    def write_prebuilt(
        self, prebuilt: Prebuilt, date_line: bytes, extra: bytes, body: bytes
    ) -> None:
        """A whole 200 from memory: the stored version's prebuilt head, Date and `extra` (the
        per-request lines), then the body; one write either way."""
        if len(body) <= JOIN_MAX:
            self.transport.write(prebuilt.whole(date_line, extra, body))
        else:  # a hot segment: the held bytes go by reference, pause_writing follows
            self.transport.writelines((prebuilt.head(date_line, extra), body))
        self.stats.bytes_sent += len(body)

    def start_file(self, head: bytes, answer: FileAnswer) -> FileRange | None:
        """A disk hit: the head, then sendfile straight away; what the socket did not take yet
        (a segment larger than the socket buffer, or a slow reader), None when all went out.
        Raises OSError if sendfile fails."""
        self.transport.write(head)
        offset, count = answer.offset, answer.count
        if self._sendfile_fd() >= 0 and self.transport.get_write_buffer_size() == 0:
            offset, count = self._sendfile_now(answer.fd, offset, count)
        if count == 0:
            self.stats.bytes_sent += answer.count
            return None
        return FileRange(answer.fd, offset, count)

    async def finish_file(self, rest: FileRange, total: int) -> None:
        await self.send_range(rest)
        self.stats.bytes_sent += total  # the part sent at once is counted here too

    async def send_stream(self, head: bytes, answer: StreamAnswer) -> None:
        """A body that arrives while it is sent. Raises if the source fails or gives more or
        fewer bytes than promised: a short body must never be ended as if it were complete."""
        sent = 0
        try:
            if self.gone:
                raise ConnectionResetError("client went away")
            self.transport.write(head)
            async with contextlib.aclosing(answer.parts) as parts:
                async for part in parts:
                    size = len(part) if isinstance(part, bytes) else part.count
                    if sent + size > answer.length:
                        raise ValueError(f"the source gave more than {answer.length} bytes")
                    if isinstance(part, bytes):
                        await self.write(part)
                    else:
                        await self.send_range(part)
                    sent += size
            if sent != answer.length:
                raise ValueError(f"the source ended at {sent} of {answer.length} bytes")
        finally:
            answer.release()
            self.stats.bytes_sent += sent

    # -- bytes and file ranges ------------------------------------------------------------------
    async def write(self, data: bytes | bytearray) -> None:
        if self.gone or self.transport.is_closing():
            raise ConnectionResetError("client went away")
        self.transport.write(data)
        if self.paused:
            await self._ready()

    async def send_range(self, part: FileRange) -> None:
        sock_fd = self._sendfile_fd()
        if sock_fd < 0:
            await self._copy_range(part)
            return
        await self._flush()
        offset, count = part.offset, part.count
        loop = asyncio.get_running_loop()
        while True:
            offset, count = self._sendfile_now(part.fd, offset, count)
            if count == 0:
                return
            ready = loop.create_future()
            loop.add_writer(sock_fd, _set_once, ready)
            try:
                async with asyncio.timeout(self.send_timeout):
                    await ready
            finally:
                if self._sock_fd >= 0:
                    loop.remove_writer(sock_fd)

    def _sendfile_now(self, fd: int, offset: int, count: int) -> tuple[int, int]:
        """sendfile until done or the socket is full; returns what is left."""
        stats = self.stats
        while count > 0:
            try:
                sent = os.sendfile(self._sock_fd, fd, offset, count)
            except BlockingIOError:
                break
            if sent == 0:
                raise ConnectionResetError("file ended before the promised length")
            offset += sent
            count -= sent
            stats.zero_copy_bytes += sent
        return offset, count

    async def _copy_range(self, part: FileRange) -> None:
        """The copy path (TLS, or sendfile turned off): read a large block, write it through.

        A block already in the page cache (a hot segment: the usual case) is read on the
        loop, `RWF_NOWAIT` refusing rather than waiting for the disk; only a block that must
        come from the disk goes to a thread. Measured on the hot 2 MB segment over TLS (notes
        of issue 18): a thread hop per block cost more CPU than the AES-GCM itself."""
        offset, left = part.offset, part.count
        while left > 0:
            size = min(READ_CHUNK, left)
            chunk: bytes | bytearray | None = _read_cached(part.fd, size, offset)
            if chunk is None:
                chunk = await asyncio.to_thread(os.pread, part.fd, size, offset)
            if not chunk:
                raise ConnectionResetError("file ended before the promised length")
            await self.write(chunk)
            offset += len(chunk)
            left -= len(chunk)
            self.stats.copied_bytes += len(chunk)

    def _sendfile_fd(self) -> int:
        """A dup of the socket for os.sendfile, kept for the connection; -1 where the bytes
        must go through the transport (TLS, or sendfile turned off).

        Kernel TLS would keep sendfile for HTTPS. HTTPS connections run OpenSSL on the socket
        itself (edge/http/tlstransport.py), so OpenSSL 3 can hand the keys to the kernel on
        its own: `ssl.OP_ENABLE_KTLS` on the context (0x8 in OpenSSL 3.0; Python 3.12 names
        it), a kernel with the `tls` ULP and a cipher it offloads (AES-GCM). After the
        handshake the socket encrypts what is written to it, and this path would take such a
        connection (`BIO_get_ktls_send` says whether it happened; Python does not expose it,
        so a probe or ctypes). This machine has no kTLS (/proc/net/tls_stat), so it is not
        built; the copy path below is what HTTPS uses.
        """
        if self._sock_fd < 0 and self.use_sendfile and not self.gone:
            transport = self.transport
            sock = transport.get_extra_info("socket")
            if sock is not None and transport.get_extra_info("sslcontext") is None:
                self._sock_fd = os.dup(sock.fileno())
        return self._sock_fd

    async def _flush(self) -> None:
        """Wait until the transport has handed every byte to the socket (sendfile bytes must
        follow the head, never overtake it)."""
        transport = self.transport
        if self.gone or transport.is_closing():
            raise ConnectionResetError("client went away")
        if transport.get_write_buffer_size() == 0:
            return  # the usual case: the head went straight to the socket
        high, low = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=0)
        try:
            await self._ready()
        finally:
            if not self.gone:
                transport.set_write_buffer_limits(high=high, low=low)

    async def _ready(self) -> None:
        if not self.paused:
            return
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(self.send_timeout):
            await asyncio.shield(self._drained)

    def _wake(self, error: Exception | None) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            if error is None:
                drained.set_result(None)
            else:
                drained.set_exception(error)
                drained.exception()  # retrieved: nobody may be waiting any more


def _read_cached(fd: int, size: int, offset: int) -> bytearray | None:
    """`size` bytes at `offset` if the page cache holds them (None: they need the disk).
    A fresh buffer each time: the transport may keep it until it is sent."""
    if not NOWAIT:
        return None
    buffer = bytearray(size)
    try:
        got = os.preadv(fd, [buffer], offset, NOWAIT)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without RWF_NOWAIT
            return None
        raise
    if got < size:
        del buffer[got:]  # a short read: the rest is read next time round (b"": the file ended)
    return buffer


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
