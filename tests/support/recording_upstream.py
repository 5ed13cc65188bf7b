"""A tiny upstream for e2e tests: answers what a test tells it and records every request
target exactly as the edge sent it (a stdlib server in a thread; no edge code).

An answer may trickle its body over `send_seconds` (so a fill is still running when a test acts),
and a path may map to a function that builds its answer per request (a live playlist)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_PIECES = 32  # a slow body is sent in this many pieces, evenly spaced


@dataclass
class Answer:
    body: bytes
    content_type: str = "application/vnd.apple.mpegurl"
    status: int = 200
    cache_control: str = "max-age=60"
    send_seconds: float = 0.0  # spread the body over this long (0: send it at once)


@dataclass
class RecordingUpstream:
    url: str
    answers: dict[str, Answer | Callable[[], Answer]] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)  # targets whose reader left mid-body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(t.partition("?")[0] == path for t in self.targets)

    def aborts(self, path: str) -> int:
        with self.lock:
            return sum(t.partition("?")[0] == path for t in self.aborted)


def _handler(upstream: RecordingUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with upstream.lock:
                upstream.targets.append(self.path)
            answer = upstream.answers.get(self.path.partition("?")[0])
            if callable(answer):
                answer = answer()
            if answer is None:
                answer = Answer(b"not here\n", "text/plain", 404, "max-age=1")
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", answer.cache_control)
            self.end_headers()
            try:
                self._send_body(answer)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                with upstream.lock:
                    upstream.aborted.append(self.path)

        def _send_body(self, answer: Answer) -> None:
            if answer.send_seconds <= 0 or not answer.body:
                self.wfile.write(answer.body)
                return
            piece = -(-len(answer.body) // SLOW_PIECES)
            for start in range(0, len(answer.body), piece):
                if start:
                    time.sleep(answer.send_seconds / SLOW_PIECES)
                self.wfile.write(answer.body[start : start + piece])

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # several edge workers connect at once; 5 (the default) drops SYNs


@contextlib.contextmanager
def recording_upstream() -> Iterator[RecordingUpstream]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    upstream = RecordingUpstream(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
