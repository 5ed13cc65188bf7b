"""HTTPS connections with OpenSSL on the socket itself (a socket BIO), not asyncio's TLS.

asyncio's and uvloop's TLS run OpenSSL over memory BIOs: every read copies ciphertext into
OpenSSL and plaintext out, every write copies the records out to a new bytes object and then
to the socket, each through `ssl.SSLObject`'s Python wrappers. Measured on the hot playlist
(issue 18, BENCHMARKS.md) that path cost 1.46x nginx's CPU per request and 0.73x its new
connections per second. Here the listening socket is read by `loop.add_reader`, each accepted
socket is wrapped by the context's C-level `_wrap_socket` (no `ssl.SSLSocket` layer), and its
reads and writes call the C object's `read`/`write`: OpenSSL encrypts into its own buffer and
sends from it, as nginx does.

OpenSSL rules this follows: a write that raised SSLWantWriteError must be retried with the
same bytes (Python sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, so the same object suffices) and
returns only once all of them went out (no partial-write mode); a read returns one record's
data at most, and what it left decrypted inside OpenSSL shows in `pending()`, which epoll
cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("edge.tls")

ACCEPT_BATCH = 16  # connections accepted per readable event of the listening socket
READ_SIZE = 16 * 1024  # bytes asked of OpenSSL per read: a read returns one record, 16 KiB at most
JOIN_MAX = 64 * 1024  # queued writes up to this much are joined into one SSL_write
HIGH_WATER = 64 * 1024  # asyncio's default write buffer limits
ACCEPT_PAUSE_S = 1.0  # out of descriptors: accepting waits this long (as asyncio does)
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# a peer that goes away mid-handshake or sends something that is not TLS: closed quietly
QUIET = (ssl.SSLError, OSError)

ProtocolFactory = Callable[[], asyncio.Protocol]
Failed = Callable[[asyncio.Protocol], None]


class TlsListener:
    """Accepts on one listening socket; each connection's handshake ends within
    `handshake_timeout`, then its protocol gets `connection_made`. `failed` is told of a
    protocol whose handshake did not end (its `connection_made` never comes)."""

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        factory: ProtocolFactory,
        *,
        handshake_timeout: float | None,
        failed: Failed | None = None,
    ) -> None:
        self.sock = sock
        # a client's TCP FIN without a close_notify ends its requests like a close_notify
        # does: without this OpenSSL answers it with a decode_error alert (every request is
        # framed by HTTP, so no truncation can go unseen; connections keep the options of
        # the listening context even when SNI switches their certificate)
        context.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
        self.context = context
        self.factory = factory
        self.handshake_timeout = handshake_timeout
        self.failed = failed
        self.sockets = [sock]  # as asyncio.Server has them
        self._loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._serving = False

    def start(self) -> None:
        self.sock.setblocking(False)
        self._loop.add_reader(self._fd, self._accept)
        self._serving = True

    def close(self) -> None:
        """Stop accepting and close the listening socket (as asyncio.Server.close does);
        connections accepted before go on."""
        if self._serving:
            self._loop.remove_reader(self._fd)
            self._serving = False
        self.sock.close()

    async def wait_closed(self) -> None:
        return None

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    raise
                log.warning("accept failed, pausing", extra={"error": exc.strerror})
                self._loop.remove_reader(self._fd)
                self._loop.call_later(ACCEPT_PAUSE_S, self._resume_accepting)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            TlsTransport(self, conn, self.factory()).start()

    def _resume_accepting(self) -> None:
        if self._serving:
            self._loop.add_reader(self._fd, self._accept)


class TlsTransport(asyncio.Transport):
    __slots__ = (
        "__weakref__",
        "_buffered",
        "_closing",
        "_fd",
        "_high",
        "_listener",
        "_loop",
        "_lost",
        "_low",
        "_made",
        "_pending",
        "_protocol",
        "_queue",
        "_reading",
        "_sock",
        "_sslobj",
        "_timer",
        "_waiting",
        "_writer_on",
        "_writing_paused",
    )

    def __init__(self, listener: TlsListener, sock: socket.socket, protocol: Any) -> None:
        super().__init__()
        self._listener = listener
        self._loop = listener._loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        # the owner is this transport: the SNI callback sets `.context` on it (edge/http/tls.py)
        self._sslobj: Any = listener.context._wrap_socket(  # type: ignore[attr-defined]
            sock, server_side=True, owner=self
        )
        self._made = False  # the handshake ended and the protocol knows
        self._reading = True  # not paused by the protocol
        self._closing = False
        self._lost = False
        self._pending: bytes | bytearray | memoryview | None = None  # the write being retried
        self._queue: deque[bytes | bytearray | memoryview] = deque()
        self._buffered = 0
        self._high, self._low = HIGH_WATER, HIGH_WATER // 4
        self._writing_paused = False
        self._writer_on = False  # the socket's writability is watched
        self._waiting = False  # the handshake waits on the socket
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open" if self._made else "handshaking"
        return f"<TlsTransport fd={self._fd} {state} buffered={self._buffered}>"

    # the SNI callback's view of the connection (ssl.SSLSocket has the same attribute)
    @property
    def context(self) -> ssl.SSLContext:
        return self._sslobj.context  # type: ignore[no-any-return]

    @context.setter
    def context(self, context: ssl.SSLContext) -> None:
        self._sslobj.context = context

    # -- the handshake ------------------------------------------------------------------------
    def start(self) -> None:
        timeout = self._listener.handshake_timeout
        if timeout is not None:
            self._timer = self._loop.call_later(timeout, self._handshake_timed_out)
        self._handshake()  # the ClientHello is often there already

    def _handshake(self) -> None:
        try:
            self._sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._wait(self._handshake, writable=False)
            return
        except ssl.SSLWantWriteError:
            self._wait(self._handshake, writable=True)
            return
        except QUIET as exc:
            self._handshake_failed(exc)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer_on:
            self._writer_on = False
            self._loop.remove_writer(self._fd)
        self._loop.add_reader(self._fd, self._read_ready)
        self._made = True
        self._protocol.connection_made(self)
        if not self._closing:
            self._read_ready()  # the first request may have come with the client's Finished

    def _wait(self, then: Callable[[], None], *, writable: bool) -> None:
        if writable == self._writer_on and self._waiting:
            return  # already waiting for that
        self._waiting = True
        self._writer_on = writable
        if writable:
            self._loop.remove_reader(self._fd)
            self._loop.add_writer(self._fd, then)
        else:
            self._loop.remove_writer(self._fd)
            self._loop.add_reader(self._fd, then)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        self._handshake_failed(TimeoutError("TLS handshake not done in time"))

    def _handshake_failed(self, exc: BaseException) -> None:
        log.debug("handshake failed", extra={"error": repr(exc)})
        self._release()
        if self._listener.failed is not None:
            self._listener.failed(self._protocol)

    # -- reading ------------------------------------------------------------------------------
    def _read_ready(self) -> None:
        sslobj = self._sslobj
        while True:
            try:
                data = sslobj.read(READ_SIZE)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLWantWriteError:  # a TLS 1.3 KeyUpdate answer waits on the socket
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self._eof()
                return
            except QUIET as exc:
                self._force_close(exc)
                return
            if not data:
                self._eof()
                return
            try:
                self._protocol.data_received(data)
            except Exception as exc:
                self._fatal(exc, "data_received failed")
                return
            # epoll cannot see what OpenSSL decrypted and kept (the rest of a large record)
            if not (self._reading and not self._closing and sslobj.pending()):
                return

    def _eof(self) -> None:
        self._loop.remove_reader(self._fd)
        self._reading = False
        try:
            keep_open = self._protocol.eof_received()
        except Exception as exc:
            self._fatal(exc, "eof_received failed")
            return
        if not keep_open:
            self.close()

    def pause_reading(self) -> None:
        if self._reading and self._made and not self._closing:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._reading or not self._made or self._closing:
            return
        self._reading = True
        self._loop.add_reader(self._fd, self._read_ready)
        if self._sslobj.pending():
            self._loop.call_soon(self._read_held)

    def _read_held(self) -> None:
        """What OpenSSL decrypted and kept while reading was paused."""
        if self._reading and not self._closing:
            self._read_ready()

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    # -- writing ------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        if self._pending is not None:  # an earlier write is waiting for the socket
            self._queue.append(data)
            self._buffered += len(data)
            self._check_high()
            return
        try:
            self._sslobj.write(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            self._pending = data  # part may be out already: OpenSSL knows how much
            self._buffered += len(data)
            self._writer_on = True
            self._loop.add_writer(self._fd, self._write_ready)
            self._check_high()
        except QUIET as exc:
            self._force_close(exc)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _write_ready(self) -> None:
        sslobj = self._sslobj
        while self._pending is not None:
            try:
                sslobj.write(self._pending)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except QUIET as exc:
                self._force_close(exc)
                return
            self._buffered -= len(self._pending)
            self._pending = self._next_write()
        self._writer_on = False
        self._loop.remove_writer(self._fd)
        if self._writing_paused and self._buffered <= self._low:
            self._writing_paused = False
            try:
                self._protocol.resume_writing()
            except Exception as exc:
                self._fatal(exc, "resume_writing failed")
                return
        if self._closing and self._pending is None and not self._lost:
            self._shut_down()

    def _next_write(self) -> bytes | bytearray | memoryview | None:
        queue = self._queue
        if not queue:
            return None
        if len(queue) == 1 or len(queue[0]) >= JOIN_MAX:
            return queue.popleft()
        parts: list[bytes | bytearray | memoryview] = []
        size = 0
        while queue and size + len(queue[0]) <= JOIN_MAX:
            size += len(queue[0])
            parts.append(queue.popleft())
        return b"".join(parts)

    def _check_high(self) -> None:
        if not self._writing_paused and self._buffered > self._high:
            self._writing_paused = True
            try:
                self._protocol.pause_writing()
            except Exception as exc:
                self._fatal(exc, "pause_writing failed")

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        high = HIGH_WATER if high is None else high
        low = high // 4 if low is None else low
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._check_high()

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("TLS connections cannot half-close")

    # -- closing ------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Send what is buffered, a close_notify, then close."""
        if self._closing:
            return
        self._closing = True
        if self._reading and self._made:
            self._loop.remove_reader(self._fd)
        if self._pending is None:
            self._shut_down()

    def abort(self) -> None:
        self._force_close(None)

    def _shut_down(self) -> None:
        with contextlib.suppress(*QUIET):  # one close_notify, not waiting for the client's
            self._sslobj.shutdown()
        self._force_close(None)

    def _fatal(self, exc: Exception, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        made = self._made
        self._closing = True
        self._release()
        if made:
            self._loop.call_soon(self._connection_lost, exc)
        elif self._listener.failed is not None:
            self._listener.failed(self._protocol)

    def _release(self) -> None:
        self._lost = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._pending = None
        self._queue.clear()
        self._buffered = 0
        self._sock.close()

    def _connection_lost(self, exc: BaseException | None) -> None:
        protocol, self._protocol = self._protocol, None
        self._sslobj = None  # OpenSSL's state goes now, not when the protocol lets go
        protocol.connection_lost(exc)

    # -- the rest of asyncio.Transport ---------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._sslobj
        if name == "sslcontext":
            return self._listener.context
        if name == "socket":
            return self._sock
        if name == "peername":
            return _address(self._sock.getpeername) if not self._lost else default
        if name == "sockname":
            return _address(self._sock.getsockname) if not self._lost else default
        if name == "peercert":
            return self._sslobj.getpeercert() if self._sslobj is not None else default
        if name == "cipher":
            return self._sslobj.cipher() if self._sslobj is not None else default
        return default

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[no-any-return]


def _address(getter: Callable[[], Any]) -> Any:
    try:
        return getter()
    except OSError:
        return None
