"""One client connection: HTTP/1.1 framing on httptools (llhttp), answers in order.

Requests are parsed into `Request` values and answered strictly in arrival order (pipelining,
RFC 9112 9.3.2); the bytes of each answer go out through the connection's `AnswerWriter`
(edge/http/writer.py). Reading stops while answers are owed beyond a small queue, and
answering stops while the transport says its buffer is full, so a slow reader never grows the
edge's memory. Timeouts are deadlines checked by the server's once-a-second tick: nothing per
request but an attribute store.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

import httptools

from edge.http.heads import status_line
from edge.http.messages import (
    Answer,
    AnyAnswer,
    FileAnswer,
    FileRange,
    Held,
    Request,
    SteadyHits,
    StreamAnswer,
)
from edge.http.writer import AnswerWriter

if TYPE_CHECKING:
    from edge.http.server import HttpServer

log = logging.getLogger("edge.http")

NEVER = float("inf")
NO_BODY_STATUSES = frozenset({204, 304})
# bytes of an unfinished request head kept while waiting for the rest: the limits below
# (target + fields) plus one read's worth of earlier pipelined requests counted with it
MAX_PENDING_HEAD = 64 * 1024 + 256 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
FIRST_REQUEST_GRACE_S = 1.0  # a new connection's first request, once the server is stopping
TARGET_SAFE = "/?&=%:@!$'()*+,;~#[]-._"


@dataclass(frozen=True, slots=True)
class Limits:
    max_target: int = 8190  # request target bytes: longer gets 414
    max_field_bytes: int = 8190  # one field line, as nginx's 8k header buffers: more gets 431
    max_header_bytes: int = 32 * 1024  # all field names and values: more gets 431
    max_headers: int = 100
    max_body: int = 64 * 1024  # request bodies (admin orders): larger gets 413
    max_pipeline: int = 32  # requests parsed ahead of their answers before reading stops
    header_timeout: float = 10.0  # from a request's first byte to its last header
    idle_timeout: float = 75.0  # a keep-alive connection with nothing asked
    send_timeout: float = 60.0  # a reader that takes nothing for this long is dropped


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the parser refused: answered in its turn, then the connection closes."""

    status: int
    reason: str


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.refusal = Refusal(status, reason)


class Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.limits = server.limits
        self.handler = server.handler
        self.seen_heads = server.seen_heads
        self.monotonic = server.monotonic  # how long each answer took, for the access log
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.queue: deque[Request | Refusal] = deque()
        self.busy = False  # an answer is being produced or sent
        self.closing = False  # close once the current answer is out
        self.deadline = NEVER  # checked by the server's sweep
        self.in_head = False
        self.at_boundary = True  # no request begun and unfinished: the next bytes start one
        self.reading_paused = False
        self.refused = False
        self.counted = True  # within the per-client connection limit
        self.task: asyncio.Task[None] | None = None
        self._head_pending = 0
        self._heads_done = 0
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._header_count = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._started = 0.0
        self.tls_note = ""  # for the access log: the TLS version and whether it resumed
        self.extra_head = b""  # header lines of this connection's every answer (HSTS)
        self.viewer: SteadyHits | None = None  # the observer's memo of its viewer (issue 19)
        self.writer: AnswerWriter  # made with the transport, in connection_made

    def __repr__(self) -> str:
        state = "busy" if self.busy else "idle"
        return f"<Connection {self.peer} {state} queued={len(self.queue)}>"

    # -- transport events -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.writer = AnswerWriter(
            self.transport,
            self.server.stats,
            use_sendfile=self.server.use_sendfile,
            send_timeout=self.limits.send_timeout,
        )
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:  # the handshake is over: connection_made comes after it
            self._tls_made(tls.version() or "", bool(tls.session_reused))
        self.deadline = self.server.now + self.limits.header_timeout
        self.server.opened(self)

    def _tls_made(self, version: str, resumed: bool) -> None:
        stats = self.server.stats
        stats.tls_connections += 1
        stats.tls_resumed += resumed
        self.tls_note = f',"tls":"{version}","resumed":{"true" if resumed else "false"}'
        self.extra_head = self.server.tls_head

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.closed(self)
        self.queue.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.writer.lost()  # after the cancel: a send task cancelled above has not run yet
        self.transport = None

    def pause_writing(self) -> None:
        self.writer.pause()

    def resume_writing(self) -> None:
        self.writer.resume()
        if not self.busy:
            self._answer_queued()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        seen = self.seen_heads.get(data) if self.at_boundary else None
        if seen is not None:  # a whole request head seen before, byte for byte
            self._heads_done += 1
            self._queued(self.seen_heads.request(seen, self.peer))
        else:
            self._parse(data)
        if not self.busy:
            self._answer_queued()

    def _parse(self, data: bytes) -> None:
        heads_before = self._heads_done
        from_boundary = self.at_boundary
        try:
            self.parser.feed_data(data)
        except Refused as exc:  # raised before the parser is entered, never through it
            self._refuse(exc.refusal)
        except httptools.HttpParserUpgrade:
            self._refuse(Refusal(400, "protocol upgrade and CONNECT are not supported"))
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            refusal = cause.refusal if isinstance(cause, Refused) else None
            self._refuse(refusal or Refusal(400, "malformed request"))
        except httptools.HttpParserError as exc:
            self._refuse(Refusal(400, f"malformed request: {_parser_reason(exc)}"))
        else:
            if self.in_head:
                new = self._heads_done != heads_before
                self._head_pending = len(data) + (0 if new else self._head_pending)
                if self._head_pending > MAX_PENDING_HEAD:
                    self._refuse(Refusal(431, "request head too large"))
            elif from_boundary and self.at_boundary and self._heads_done == heads_before + 1:
                request = self.queue[-1]  # `data` was exactly this request
                if isinstance(request, Request):
                    self.seen_heads.remember(data, request)

    # -- parser callbacks (httptools calls these while feed_data runs) ------------------------
    def on_message_begin(self) -> None:
        self.in_head = True
        self.at_boundary = False
        self._url = b""
        self._headers = {}
        self._header_bytes = 0
        self._header_count = 0
        self._body = []
        self._body_size = 0
        self.deadline = self.server.now + self.limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_target:
            raise Refused(414, f"request target longer than {self.limits.max_target} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        if size > self.limits.max_field_bytes:
            raise Refused(
                431, f"a request header field is over {self.limits.max_field_bytes} bytes"
            )
        self._header_bytes += size
        self._header_count += 1
        if self._header_bytes > self.limits.max_header_bytes:
            raise Refused(431, "request header fields too large")
        if self._header_count > self.limits.max_headers:
            raise Refused(431, "too many request header fields")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        known = self._headers.get(key)
        # RFC 9110 5.3: a repeated field is one comma-separated list
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._heads_done += 1
        self._head_pending = 0
        self.deadline = self.server.now + self.limits.header_timeout  # the body, if any
        length = self._headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limits.max_body):
            raise Refused(413, f"request body over {self.limits.max_body} bytes")
        expect = self._headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                raise Refused(417, f"cannot meet Expect: {expect[:40]}")
            # RFC 9110 10.1.1: tell the client to send its body, unless answers are still
            # owed on this connection (they must come first; the client sends anyway)
            if self.transport is not None and not self.busy and not self.queue:
                self.transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.limits.max_body:
            raise Refused(413, f"request body over {self.limits.max_body} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        request = Request(
            parser.get_method().decode("ascii", "replace"),
            _target(self._url),
            self._headers,
            parser.get_http_version(),
            parser.should_keep_alive(),
            self.peer,
            b"".join(self._body),
        )
        self.at_boundary = True
        self._queued(request)

    def _queued(self, request: Request) -> None:
        self.queue.append(request)
        self.deadline = NEVER
        if len(self.queue) >= self.limits.max_pipeline and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True

    # -- answering ---------------------------------------------------------------------------
    def _refuse(self, refusal: Refusal) -> None:
        """Stop parsing; the refusal is answered after the answers already owed."""
        self.refused = True
        self.in_head = False
        self.queue.append(refusal)
        if self.transport is not None:
            self.transport.pause_reading()

    def _answer_queued(self) -> None:
        while self.queue and not self.busy and not self.writer.paused:
            if self.transport is None or self.transport.is_closing():
                return
            request = self.queue.popleft()
            if isinstance(request, Refusal):
                self._send_refusal(request)
                return
            self._started = self.monotonic()
            rates = self.server.rates
            wait = rates(self.peer) if rates is not None else 0.0
            try:
                result = self.handler(request) if not wait else self.server.too_many(wait)
            except Exception:
                log.exception("handler failed", extra={"target": request.target[:200]})
                result = self.server.internal_error()
            if isinstance(result, Answer):
                self._send_answer(request, result)
            elif isinstance(result, FileAnswer):
                self._start_file(request, result)
            elif isinstance(result, Held):  # answered with the others when it is released
                self.busy = True
                result.wait(self, request)
            else:
                pending = _ready(result) if isinstance(result, StreamAnswer) else result
                self.busy = True
                self.task = asyncio.ensure_future(self._answer_later(request, pending))
        if self.reading_paused and not self.queue and not self.refused:
            self.reading_paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        if not self.queue and not self.busy and not self.in_head:
            self.deadline = self.server.now + self.limits.idle_timeout

    def held_send(self, request: Request, answer: Answer | None) -> bool:
        """A held request's shared answer (edge/http/messages.py `Held`): its bytes go out now,
        the bookkeeping in `held_sent`; True if that is owed. None: the request is answered the
        ordinary way after all."""
        if self.transport is None or not self.busy:
            return False  # the client left while held
        self.busy = False
        if answer is None:
            self.queue.appendleft(request)
            self._answer_queued()
            return False
        keep = self._keeps_alive(request, answer.close)
        self._write_answer(request, answer, keep)  # a paused writer keeps the bytes by reference
        return True

    def held_sent(self, request: Request, answer: Answer) -> None:
        self._done(
            request,
            answer.status,
            answer.x_cache,
            len(answer.body),
            self._keeps_alive(request, answer.close),
        )
        self._answer_queued()

    def _keeps_alive(self, request: Request, close: bool = False) -> bool:
        return request.keep_alive and not close and not self.closing and not self.refused

    def _head(
        self, request: Request, status: int, headers: bytes, length: int, keep: bool
    ) -> bytes:
        if keep:
            connection = b"Connection: keep-alive\r\n" if request.version == "1.0" else b""
        else:
            connection = b"Connection: close\r\n"
        framing = b"" if status in NO_BODY_STATUSES else b"Content-Length: %d\r\n" % length
        # a stored response that keeps its origin's Date starts with it (edge/http/heads.py)
        date = b"" if headers[:5] == b"Date:" else self.server.date_line
        return b"".join(
            (status_line(status), date, headers, self.extra_head, framing, connection, b"\r\n")
        )

    def _send_answer(self, request: Request, answer: Answer) -> None:
        keep = self._keeps_alive(request, answer.close)
        sent = self._write_answer(request, answer, keep)
        self._done(request, answer.status, answer.x_cache, sent, keep)

    def _write_answer(self, request: Request, answer: Answer, keep: bool) -> int:
        """Write the answer's bytes; the body bytes sent."""
        body = answer.body
        prebuilt = answer.prebuilt
        if prebuilt is not None and keep and request.version == "1.1" and request.method == "GET":
            # the hot path: a stored version's head joined once (edge/http/prebuilt.py)
            extra = answer.headers + self.extra_head if self.extra_head else answer.headers
            self.writer.write_prebuilt(prebuilt, self.server.date_line, extra, body)
            return len(body)
        length = len(body) if answer.length < 0 else answer.length
        head = self._head(request, answer.status, answer.all_headers, length, keep)
        if request.method == "HEAD" or answer.status in NO_BODY_STATUSES:
            body = b""
        self.writer.write_answer(head, body)
        return len(body)

    def _send_refusal(self, refusal: Refusal) -> None:
        request = Request("-", "-", {}, keep_alive=False, peer=self.peer)
        answer = self.server.refusal(refusal.status, refusal.reason)
        answer.close = True
        self._started = self.monotonic()
        self._send_answer(request, answer)

    def _done(self, request: Request, status: int, x_cache: str, sent: int, keep: bool) -> None:
        server = self.server
        if server.access_log is not None or server.observer is not None:
            took = self.monotonic() - self._started
            if server.access_log is not None:
                server.access_log.log(request, status, x_cache, sent, took, self.tls_note)
            if server.observer is not None:
                steady = self.viewer  # a keep-alive viewer's reload is counted there
                if steady is None or not steady.counted(
                    request.target, status, x_cache, took, self._started
                ):
                    server.observer(request, status, x_cache, sent, took, self)
        if not keep and self.transport is not None:
            self.queue.clear()
            self.transport.close()

    def _start_file(self, request: Request, answer: FileAnswer) -> None:
        keep = self._keeps_alive(request)
        head = self._head(request, answer.status, answer.headers, answer.count, keep)
        try:
            rest = self.writer.start_file(head, answer)
        except OSError:
            answer.release()
            self._abort()
            return
        if rest is None:
            answer.release()
            self._done(request, answer.status, answer.x_cache, answer.count, keep)
            return
        self.busy = True
        self.task = asyncio.ensure_future(self._finish_file(request, answer, rest))
        # released when the task ends, even one cancelled before it ran (a client that left
        # at once): a finally inside it would never run then, and the descriptor would leak
        self.task.add_done_callback(lambda _task: answer.release())

    async def _finish_file(self, request: Request, answer: FileAnswer, rest: FileRange) -> None:
        try:
            await self.writer.finish_file(rest, answer.count)
        except (ConnectionError, TimeoutError, OSError):
            self._abort()
            return
        finally:
            self.busy = False
        self._done(request, answer.status, answer.x_cache, answer.count, self._keeps_alive(request))
        self._answer_queued()

    async def _answer_later(self, request: Request, pending: Awaitable[AnyAnswer]) -> None:
        try:
            answer = await pending
        except Exception:
            log.exception("handler failed", extra={"target": request.target[:200]})
            answer = self.server.internal_error()
        if isinstance(answer, Answer):
            self.busy = False
            self._send_answer(request, answer)
        elif isinstance(answer, FileAnswer):
            self.busy = False
            self._start_file(request, answer)
        else:
            await self._send_stream(request, answer)
        if not self.busy:
            self._answer_queued()

    async def _send_stream(self, request: Request, answer: StreamAnswer) -> None:
        keep = self._keeps_alive(request)
        head = self._head(request, answer.status, answer.headers, answer.length, keep)
        try:
            await self.writer.send_stream(head, answer)
        except Exception as exc:
            # never end a short body as if it were complete: drop the connection instead
            # (if the client left, the source goes on for the others all the same)
            log.info("streamed answer cut", extra={"target": request.target, "error": repr(exc)})
            self._abort()
            return
        finally:
            self.busy = False
        keep = self._keeps_alive(request)  # a stop may have come while it streamed
        self._done(request, answer.status, answer.x_cache, answer.length, keep)

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- server-driven events -------------------------------------------------------------------
    def expire(self) -> None:
        """The deadline passed: a request head too slow (408), or an idle keep-alive."""
        if self.transport is None or self.busy or self.queue:
            return
        if self.in_head and (self._url or self._headers):
            self._refuse(Refusal(408, "request head not received in time"))
            self._answer_queued()
        else:
            self.transport.close()

    def shut_down(self) -> None:
        """Stop after the answer in progress (graceful stop of the whole server).

        An idle keep-alive connection closes at once: a client whose next request crosses the
        close may retry it (RFC 9112 9.3.1). A connection that has not sent its first request
        yet, or is sending a head, gets it answered (with `Connection: close`) if it comes
        within FIRST_REQUEST_GRACE_S: a client may not retry a request on a new connection,
        and the one just accepted when a worker stops may have its request on the way."""
        self.closing = True
        if self.transport is None or self.busy or self.queue:
            return
        if self._heads_done and not self.in_head:
            self.transport.close()
        else:
            self.deadline = min(self.deadline, self.server.now + FIRST_REQUEST_GRACE_S)


async def _ready(answer: StreamAnswer) -> StreamAnswer:
    return answer


def _target(raw: bytes) -> str:
    """The request target as text. Raw non-ASCII bytes are not valid in a target (RFC 3986);
    UTF-8 ones are percent-encoded as a browser would, anything else is refused."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        return quote(raw.decode("utf-8"), safe=TARGET_SAFE)
    except UnicodeDecodeError:
        raise Refused(400, "request target is not ASCII or UTF-8") from None


def _parser_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:80]
