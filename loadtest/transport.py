"""The viewers' HTTP/1.1 client: keep-alive connections, httptools' response parser, and bodies
counted, not copied.

Why not aiohttp's client: a 2,000-viewer profile spent most of its samples in aiohttp's client
machinery (`ResponseHandler.data_received`, `StreamWriter._write`, per-request session objects)
and the harness cost about 14x wrk's CPU per GB (issue 12). Here a response is:

- one prebuilt request head written to a connection the viewer already holds;
- the head parsed by httptools (llhttp, in C);
- a segment body of known length *counted*: each `recv_into` lands in one buffer shared by every
  connection of the process (`asyncio.BufferedProtocol`), and the only Python work per chunk is
  `remaining -= nbytes`. Chunked and until-close bodies, and playlists the model must read, go
  through the parser.

A viewer holds its own connections (`ViewerConnections`), as a player does: usually one, a second
while its two lanes overlap. Redirects are followed like players do (XHR/fetch and AVPlayer
follow 301/302/303/307/308), up to `MAX_REDIRECTS` hops, and the final URL is reported so
relative playlist URIs resolve against it (RFC 8216 section 4.1, RFC 3986 section 5.1.3).
A GET that finds its reused connection closed by the server before any byte of the answer is
retried once on a new connection (RFC 9112 section 9.3.1), as browsers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httptools

from classcast.clock import Clock
from loadtest.bandwidth import throttle_delay
from loadtest.errors import TransportError

BUFFER_BYTES = 256 * 1024
HEAD_PEEK_BYTES = 8192  # a response head longer than this is parsed along with its body
CONNECT_TIMEOUT_S = 5.0
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
IDLE_PER_VIEWER = 1  # connections a viewer keeps open between requests (per origin)
SWEEPS_PER_TIMEOUT = 4  # a stalled body is noticed between 1 and 1.25 timeouts after its last byte
USER_AGENT = b"classcast-loadtest"

RateOf = Callable[[float], float | None]  # bits per second a viewer may read at a time; None: any


@dataclass(frozen=True, slots=True)
class Target:
    """What one URL needs on the wire: where to connect and the request head to write."""

    key: tuple[str, int, bool]  # host, port, TLS
    head: bytes


@functools.lru_cache(maxsize=4096)
def target_of(url: str) -> Target:
    """Thousands of viewers fetch the same few URLs: each is split and its head built once."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise TransportError(f"bad port in {url!r}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]
    head = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT.decode()}\r\n"
        "Accept: */*\r\n\r\n"
    ).encode("latin-1")
    return Target((parts.hostname, port, tls), head)


def with_query(head: bytes, query: str) -> bytes:
    """A request head with `query` added to its target."""
    line, rest = head.split(b" HTTP/1.1\r\n", 1)
    joiner = b"&" if b"?" in line else b"?"
    return b"".join((line, joiner, query.encode("ascii"), b" HTTP/1.1\r\n", rest))


@dataclass(slots=True)
class Answer:
    """One finished exchange. `first_byte` is the clock reading when the answer's first byte
    arrived; `body` is kept only when asked for."""

    status: int
    first_byte: float
    size: int
    cache: str
    body: bytes | None
    url: str


class Exchange:
    """One request on one connection, filled in by the protocol's callbacks."""

    __slots__ = (
        "body",
        "body_started",
        "cache",
        "chunked",
        "content_length",
        "done",
        "first_byte",
        "headers_done",
        "keep_body",
        "location",
        "rate_of",
        "size",
        "status",
    )

    def __init__(self, done: asyncio.Future[None], keep_body: bool, rate_of: RateOf | None):
        self.done = done
        self.keep_body = keep_body
        self.rate_of = rate_of
        self.status = 0
        self.first_byte = -1.0
        self.body_started = 0.0
        self.size = 0
        self.cache = ""
        self.location = ""
        self.content_length = -1
        self.chunked = False
        self.headers_done = False
        self.body: list[bytes] | None = [] if keep_body else None


class Connection(asyncio.BufferedProtocol):
    """One HTTP/1.1 connection carrying one request at a time (no pipelining)."""

    def __init__(self, buffer: memoryview, clock: Clock) -> None:
        self._buffer = buffer
        self._clock = clock
        self._transport: asyncio.Transport | None = None
        self._exchange: Exchange | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._counting = False  # the rest of the body is counted, not parsed
        self._remaining = 0
        self._paused = False
        self._holding = False  # a throttled body is all here, held until its rate allows
        self.received = 0  # bytes of answers so far: the stall sweeper watches it move
        self.uses = 0
        self.is_closed = False
        self.reusable = False

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.received += nbytes
        exchange = self._exchange
        if exchange is None:
            self._fail(TransportError("the server sent bytes nobody asked for"))
            return
        if self._counting:  # the hot path for segments: count, nothing else (issue 12)
            self._count_rest(exchange, nbytes)
            return
        if exchange.first_byte < 0:
            exchange.first_byte = self._clock()
        if exchange.headers_done:  # a chunked, kept or until-close body: the parser reads it
            self._parse_rest(exchange, 0, nbytes)
            return
        # The head and the start of the body usually arrive in one read: the parser gets the
        # head alone, so a counted body is never copied (the copy cost 3x wrk's CPU per GB).
        peek = self._buffer[: min(nbytes, HEAD_PEEK_BYTES)].tobytes()
        head_end = peek.find(b"\r\n\r\n") + 4
        if head_end == 3:  # the head goes on past this read or the peek: parse it all
            self._parse_rest(exchange, 0, nbytes)
            return
        if not self._feed(peek[:head_end]) or self._exchange is not exchange:
            return  # failed, or complete (no body)
        if exchange.headers_done and self._is_countable(exchange):
            self._counting = True
            # Usually size is 0 here; it is not when the head began in the last read and this
            # one's first blank line was in the body: the parser has counted that much body.
            self._remaining = exchange.content_length - exchange.size
            self._count_rest(exchange, nbytes - head_end)
        else:
            self._parse_rest(exchange, head_end, nbytes)

    def _parse_rest(self, exchange: Exchange, start: int, end: int) -> None:
        if start < end and not self._feed(self._buffer[start:end]):
            return
        if self._exchange is not exchange or not exchange.headers_done:
            return  # complete, failed, or the head goes on in the next read
        if self._is_countable(exchange):
            self._counting = True
            self._remaining = exchange.content_length - exchange.size
        if exchange.rate_of is not None:
            self._throttle(exchange)

    @staticmethod
    def _is_countable(exchange: Exchange) -> bool:
        return exchange.content_length >= 0 and not exchange.keep_body and not exchange.chunked

    def _feed(self, data: bytes | memoryview) -> bool:
        """Parse `data`; False if that failed the answer."""
        assert self._parser is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(TransportError(f"bad HTTP response: {error}"))
            return False
        return True

    def _count_rest(self, exchange: Exchange, rest: int) -> None:
        self._remaining -= rest
        if self._remaining > 0:
            if exchange.rate_of is not None:
                exchange.size = exchange.content_length - self._remaining
                self._throttle(exchange)
        elif self._remaining < 0:
            self._fail(TransportError("the server sent more than Content-Length"))
        else:
            exchange.size = exchange.content_length
            if exchange.rate_of is None or not self._hold(exchange):
                self._complete()

    def _hold(self, exchange: Exchange) -> bool:
        """A throttled body's last bytes came early (a body that fits in one read comes whole):
        hand it over only when the viewer's rate would have, so small segments are throttled
        too. True if held."""
        assert exchange.rate_of is not None
        now = self._clock()
        rate = exchange.rate_of(now)
        if rate is None:
            return False
        delay = throttle_delay(exchange.size, now - exchange.body_started, rate)
        if delay <= 0:
            return False
        self._holding = True
        asyncio.get_running_loop().call_later(delay, self._complete)
        return True

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        self.reusable = False
        exchange = self._exchange
        if exchange is None or self._holding:
            return  # nothing in flight, or an answer complete but held (the throttle)
        until_close = exchange.content_length < 0 and not exchange.chunked
        if exchange.headers_done and not self._counting and until_close:
            self._complete()  # RFC 9112 section 6.3 item 8: the body ran until close
            return
        if self.received == 0 and self.uses > 1:
            self._fail(StaleConnection("the server closed a kept-alive connection"))
        else:
            self._fail(TransportError(f"connection closed mid-answer ({exc or 'EOF'})"))

    # -- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self._exchange
        assert exchange is not None
        name = name.lower()
        if name == b"content-length":
            try:
                exchange.content_length = int(value)
            except ValueError:
                exchange.content_length = -1
        elif name == b"transfer-encoding":
            exchange.chunked = b"chunked" in value.lower()
        elif name == b"x-cache":
            exchange.cache = value.decode("latin-1")
        elif name == b"location":
            exchange.location = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        assert exchange is not None and self._parser is not None
        exchange.status = self._parser.get_status_code()
        exchange.headers_done = True
        exchange.body_started = self._clock()

    def on_body(self, body: bytes) -> None:
        exchange = self._exchange
        assert exchange is not None
        exchange.size += len(body)
        if exchange.body is not None:
            exchange.body.append(body)

    def on_message_complete(self) -> None:
        self._complete()

    # -- our side -----------------------------------------------------------------------------

    def send(self, head: bytes, exchange: Exchange) -> None:
        assert self._transport is not None and self._exchange is None
        self.uses += 1
        self.received = 0
        self.reusable = False
        self._exchange = exchange
        self._counting = False
        self._parser = httptools.HttpResponseParser(self)
        self._transport.write(head)

    @property
    def is_stallable(self) -> bool:
        """In flight and reading (a throttled connection pauses on purpose)."""
        return self._exchange is not None and not self._paused and not self._holding

    def abort(self, error: TransportError) -> None:
        self._fail(error)

    def close(self) -> None:
        if self._transport is not None and not self.is_closed:
            self._transport.close()
        self.is_closed = True

    def _complete(self) -> None:
        self._holding = False
        exchange = self._exchange
        if exchange is None:
            return
        parser = self._parser
        keep = parser is not None and not self.is_closed and parser.should_keep_alive()
        self._exchange, self._parser, self._counting = None, None, False
        self.reusable = keep
        if not keep:
            self.close()
        if exchange.done.done():
            return
        owed = self._owed(exchange)
        if owed > 0:  # the body came faster than the viewer's network allows: it lands later
            asyncio.get_running_loop().call_later(owed, _settle, exchange.done)
        else:
            exchange.done.set_result(None)

    def _owed(self, exchange: Exchange) -> float:
        """How much longer a throttled viewer's network would have taken for the whole body.
        The pause in `_throttle` slows a body read in several reads, but a body that arrives
        in one read (a small segment, an LL part, or any body once the socket's buffer has
        grown) would otherwise be taken at loopback speed."""
        if exchange.rate_of is None or not exchange.headers_done:
            return 0.0
        now = self._clock()
        rate = exchange.rate_of(now)
        if rate is None:
            return 0.0
        return throttle_delay(exchange.size, now - exchange.body_started, rate)

    def _fail(self, error: TransportError) -> None:
        self._holding = False
        exchange, self._exchange, self._parser = self._exchange, None, None
        self.reusable = False
        if self._transport is not None and not self.is_closed:
            self._transport.abort()
        self.is_closed = True
        if exchange is not None and not exchange.done.done():
            exchange.done.set_exception(error)

    def _throttle(self, exchange: Exchange) -> None:
        """Stay within the viewer's bandwidth: stop reading, and TCP flow control slows the
        sender, as a slow network would."""
        assert exchange.rate_of is not None and self._transport is not None
        now = self._clock()
        rate = exchange.rate_of(now)
        if rate is None:
            return
        delay = throttle_delay(exchange.size, now - exchange.body_started, rate)
        if delay > 0 and not self._paused:
            self._paused = True
            self._transport.pause_reading()
            asyncio.get_running_loop().call_later(delay, self._resume)

    def _resume(self) -> None:
        self._paused = False
        if self._transport is not None and not self.is_closed:
            self._transport.resume_reading()


class StaleConnection(TransportError):
    """A kept-alive connection the server had closed: safe to retry a GET once."""


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


class HttpClient:
    """The process's client: the shared receive buffer, TLS context, timeouts, and the sweeper
    that aborts answers whose bytes stopped coming for `read_timeout_s`."""

    def __init__(
        self,
        clock: Clock,
        read_timeout_s: float,
        connect_timeout_s: float = 0.0,
        *,
        insecure: bool = False,
    ):
        self.clock = clock
        self.insecure = insecure  # https: no certificate check (`--insecure`, a self-signed edge)
        self.read_timeout_s = read_timeout_s
        self.connect_timeout_s = connect_timeout_s or CONNECT_TIMEOUT_S
        # One buffer for every connection: a read is consumed before the next one lands.
        self.buffer = memoryview(bytearray(BUFFER_BYTES))
        self.in_flight: dict[Connection, tuple[int, float]] = {}
        self._tls: ssl.SSLContext | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.connections_opened = 0

    def connections(self, source: str = "") -> ViewerConnections:
        return ViewerConnections(self, source)

    async def open(self, key: tuple[str, int, bool], source: str = "") -> Connection:
        host, port, tls = key
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
            if self.insecure:
                self._tls.check_hostname = False
                self._tls.verify_mode = ssl.CERT_NONE
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: Connection(self.buffer, self.clock),
                    host,
                    port,
                    ssl=self._tls if tls else None,
                    local_addr=(source, 0) if source else None,
                )
        except TimeoutError:
            raise TransportError(f"connect to {host}:{port} timed out") from None
        except OSError as error:
            raise TransportError(f"connect to {host}:{port}: {error.strerror or error}") from None
        self.connections_opened += 1
        return connection

    async def exchange(self, connection: Connection, head: bytes, exchange: Exchange) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        self.in_flight[connection] = (-1, 0.0)
        try:
            connection.send(head, exchange)
            await exchange.done
        finally:
            self.in_flight.pop(connection, None)
            if not exchange.done.done():  # cancelled: the connection's state is unknown
                connection.abort(TransportError("cancelled"))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        interval = self.read_timeout_s / SWEEPS_PER_TIMEOUT
        while True:
            await asyncio.sleep(interval)
            now = self.clock()
            for connection, (seen, since) in list(self.in_flight.items()):
                if not connection.is_stallable or connection.received != seen:
                    self.in_flight[connection] = (connection.received, now)
                elif now - since >= self.read_timeout_s:
                    connection.abort(
                        TransportError(f"no bytes for {self.read_timeout_s:g} s (read timeout)")
                    )


class ViewerConnections:
    """The connections one viewer holds, as a player's HTTP stack does: reuse an idle one,
    open another while both lanes are busy, keep `IDLE_PER_VIEWER` open in between."""

    def __init__(self, client: HttpClient, source: str = "") -> None:
        self.client = client
        self.source = source  # a home's own address (set-top boxes on loopback: 127.x.y.z)
        self.idle: dict[tuple[str, int, bool], list[Connection]] = {}

    async def get(
        self,
        url: str,
        keep_body: bool,
        rate_of: RateOf | None = None,
        started: float = 0.0,
        query: str = "",
    ) -> Answer:
        """GET `url` (following redirects), with `query` (CMCD) added to the first request;
        raises TransportError below HTTP."""
        first_byte = -1.0
        for _ in range(MAX_REDIRECTS + 1):
            target = target_of(url)
            if query:  # per request: not in target_of's memo
                target = Target(target.key, with_query(target.head, query))
                query = ""
            exchange = await self._exchange(target, keep_body, rate_of)
            if first_byte < 0:
                first_byte = exchange.first_byte
            if exchange.status in REDIRECTS and exchange.location:
                url = urljoin(url, exchange.location)
                continue
            body = b"".join(exchange.body) if exchange.body is not None else None
            return Answer(exchange.status, first_byte, exchange.size, exchange.cache, body, url)
        raise TransportError(f"more than {MAX_REDIRECTS} redirects")

    async def _exchange(self, target: Target, keep_body: bool, rate_of: RateOf | None) -> Exchange:
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            connection = self._take_idle(target.key) or await self.client.open(
                target.key, self.source
            )
            exchange = Exchange(loop.create_future(), keep_body, rate_of)
            try:
                await self.client.exchange(connection, target.head, exchange)
            except StaleConnection:
                if attempt == 2:
                    raise
                continue
            self._put_back(target.key, connection)
            return exchange
        raise AssertionError("unreachable")

    def _take_idle(self, key: tuple[str, int, bool]) -> Connection | None:
        pool = self.idle.get(key)
        while pool:
            connection = pool.pop()
            if not connection.is_closed:
                return connection
        return None

    def _put_back(self, key: tuple[str, int, bool], connection: Connection) -> None:
        if not connection.reusable:
            return
        pool = self.idle.setdefault(key, [])
        if len(pool) >= IDLE_PER_VIEWER:
            connection.close()
        else:
            pool.append(connection)

    def close(self) -> None:
        for pool in self.idle.values():
            for connection in pool:
                connection.close()
        self.idle.clear()
