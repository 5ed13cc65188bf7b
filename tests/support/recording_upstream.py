"""A tiny upstream for e2e tests: answers what a test tells it and records every request
target exactly as the edge sent it (a stdlib server in a thread; no edge code)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    body: bytes
    content_type: str = "application/vnd.apple.mpegurl"
    status: int = 200
    cache_control: str = "max-age=60"


@dataclass
class RecordingUpstream:
    url: str
    answers: dict[str, Answer] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(t.partition("?")[0] == path for t in self.targets)


def _handler(upstream: RecordingUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with upstream.lock:
                upstream.targets.append(self.path)
            answer = upstream.answers.get(self.path.partition("?")[0])
            if answer is None:
                answer = Answer(b"not here\n", "text/plain", 404, "max-age=1")
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", answer.cache_control)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def recording_upstream() -> Iterator[RecordingUpstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    upstream = RecordingUpstream(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
