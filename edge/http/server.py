"""The listening side: connections, the once-a-second tick (Date header, timeouts), a
graceful stop. One `HttpServer` per worker process. The clocks and what drives the tick are
injected (edge/http/ticker.py), so tests step time instead of waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
import time
from collections.abc import Callable
from email.utils import formatdate

from classcast.clock import Clock
from edge.http.accesslog import AccessLog
from edge.http.connlimit import ConnectionCounter
from edge.http.messages import Answer, Handler, Request
from edge.http.protocol import Connection, Limits
from edge.http.seen import SeenHeads
from edge.http.ticker import SecondTicker, Ticker
from edge.http.tlstransport import TlsListener

Refusals = Callable[[int, str], Answer]
Rates = Callable[[str], float]
# (request, status, X-Cache, body bytes sent, seconds to the last byte, the connection):
# viewers and latency; the connection's `viewer` attribute is the observer's, to remember what
# it knows of the connection's viewer from one request to the next
Observer = Callable[[Request, int, str, int, float, Connection], None]
ConnectionFactory = Callable[["HttpServer"], Connection]
DEFAULT_LIMITS = Limits()


def plain_refusal(status: int, reason: str) -> Answer:
    headers = b"Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
    return Answer(status, headers, reason.encode() + b"\n")


class ServerStats:
    """What the protocol counts for /metrics and for the tests that prove zero-copy."""

    __slots__ = (
        "bytes_sent",
        "connections",
        "copied_bytes",
        "refused_connections",
        "tls_connections",
        "tls_resumed",
        "zero_copy_bytes",
    )

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.zero_copy_bytes = 0
        self.copied_bytes = 0
        self.connections = 0
        self.refused_connections = 0
        self.tls_connections = 0  # handshakes completed
        self.tls_resumed = 0  # of which resumed a session (no key exchange, no signature)


class HttpServer:
    def __init__(
        self,
        handler: Handler,
        limits: Limits = DEFAULT_LIMITS,
        *,
        access_log: AccessLog | None = None,
        observer: Observer | None = None,
        use_sendfile: bool = True,
        refusal: Refusals = plain_refusal,
        max_conns_per_client: int = 0,
        rates: Rates | None = None,
        monotonic: Clock = time.monotonic,
        clock: Clock = time.time,
        ticker: Ticker | None = None,
        protocol: ConnectionFactory = Connection,
        tls_head: bytes = b"",
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.access_log = access_log
        self.observer = observer  # told of each answer once sent, as the access log is
        self.use_sendfile = use_sendfile
        self.refusal = refusal
        self.per_client = ConnectionCounter(max_conns_per_client)
        self.rates = rates  # per-client request rate: seconds to wait, 0.0 to go on
        self.monotonic = monotonic  # deadlines and answer times
        self.clock = clock  # the Date header
        self.ticker = ticker if ticker is not None else SecondTicker(clock)
        self.protocol = protocol  # what serves one connection (tests watch it)
        self.tls_head = tls_head  # header lines every HTTPS answer carries (HSTS)
        self.stats = ServerStats()
        self.connections: set[Connection] = set()
        self.seen_heads = SeenHeads()  # request heads parsed once (edge/http/seen.py)
        # TLS connections accepted whose handshake is not over (their Connection is made at
        # accept, connection_made comes after the handshake): a stop waits for them too
        self.handshaking: dict[Connection, float] = {}
        self.stopping = False
        self.now = monotonic()
        self.date_line = b""
        self._servers: list[asyncio.Server | TlsListener] = []
        self._changed: asyncio.Event | None = None  # set when a connection opens or closes
        self.tick()

    # -- life -----------------------------------------------------------------------------------
    async def listen(
        self,
        host: str,
        port: int,
        *,
        backlog: int = 1024,
        sock: socket.socket | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> int:
        """Start accepting; returns the port (useful with port 0). With `tls`, connections
        are HTTPS; a handshake must end within the header timeout (a slowloris on the
        handshake is cut like one on the request head)."""
        if tls is not None:
            return self._listen_tls(host, port, backlog, sock, tls)
        loop = asyncio.get_running_loop()
        factory = lambda: self.protocol(self)  # noqa: E731
        if sock is not None:
            server = await loop.create_server(factory, sock=sock, backlog=backlog)
        else:
            server = await loop.create_server(
                factory, host, port, backlog=backlog, reuse_address=True
            )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def _listen_tls(
        self, host: str, port: int, backlog: int, sock: socket.socket | None, tls: ssl.SSLContext
    ) -> int:
        """HTTPS on OpenSSL's socket BIO (edge/http/tlstransport.py)."""
        if sock is None:
            sock = socket.create_server((host, port), backlog=backlog)
        else:
            sock.listen(backlog)
        handshake = self.limits.header_timeout
        listener = TlsListener(
            sock,
            tls,
            self._accepted_tls,
            handshake_timeout=handshake if math.isfinite(handshake) else None,
            failed=self._handshake_failed,
        )
        listener.start()
        self._servers.append(listener)
        return int(sock.getsockname()[1])

    def _accepted_tls(self) -> Connection:
        connection = self.protocol(self)
        self.handshaking[connection] = self.now
        return connection

    def _handshake_failed(self, connection: asyncio.Protocol) -> None:
        if self.handshaking.pop(connection, None) is not None:  # type: ignore[call-overload]
            self._count_changed()

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, let answers in progress finish (up to `grace_s`), then cut.
        A TLS handshake under way finishes too, and its first request is answered."""
        self.stopping = True
        for server in self._servers:
            server.close()
        for connection in list(self.connections):
            connection.shut_down()
        if self.connections or self.handshaking:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await self.wait_connections(lambda count: count == 0 and not self.handshaking)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.ticker.stop()
        if self.access_log is not None:
            self.access_log.flush()

    # -- connections ----------------------------------------------------------------------------
    def opened(self, connection: Connection) -> None:
        self.handshaking.pop(connection, None)
        self.stats.connections += 1
        if not self.per_client.opened(connection.peer):  # one too many: closed at once
            self.stats.refused_connections += 1
            connection.counted = False
            assert connection.transport is not None
            connection.transport.abort()
            return
        self.connections.add(connection)
        if self.stopping:  # its handshake ended after the stop began
            connection.shut_down()
        self._count_changed()

    def closed(self, connection: Connection) -> None:
        if connection.counted:
            self.per_client.closed(connection.peer)
        self.connections.discard(connection)
        self._count_changed()

    async def wait_connections(self, enough: Callable[[int], bool]) -> None:
        """Until `enough(open connections)` holds: a graceful stop waits for none, a test for
        the server to have seen its client come or go."""
        while not enough(len(self.connections)):
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def _count_changed(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def too_many(self, wait_s: float) -> Answer:
        """429 (RFC 6585 4) with when to ask again."""
        answer = self.refusal(429, "too many requests from this address")
        answer.headers += b"Retry-After: %d\r\n" % max(1, math.ceil(wait_s))
        return answer

    def internal_error(self) -> Answer:
        answer = self.refusal(500, "internal error")
        answer.close = True
        return answer

    # -- the tick -------------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second, from the ticker: the Date header (RFC 9110 6.6.1) and timeouts."""
        self.now = now = self.monotonic()
        self.date_line = b"Date: " + formatdate(self.clock(), usegmt=True).encode() + b"\r\n"
        for connection in [c for c in self.connections if c.deadline <= now]:
            connection.expire()
        if self.handshaking:  # a failed handshake never reaches connection_made
            cutoff = now - min(self.limits.header_timeout, 60.0) - 1.0
            for connection in [c for c, at in self.handshaking.items() if at < cutoff]:
                del self.handshaking[connection]
                self._count_changed()

    def start_ticking(self) -> None:
        self.tick()
        self.ticker.start(self.tick)
