"""The access log: one JSON line per answer, buffered and written at least every FLUSH_S.

Per request it only keeps a tuple; the lines are formatted in one batch when the buffer is
written. Measured on the hot playlist (BENCHMARKS.md, "access log on"): formatting each line as
it happened cost 6-10 µs a request in place (4x what a micro-benchmark of the same call says:
it interleaves with the request path), the batch costs about 1 µs. It bypasses `logging`, which
cost more than a whole hit.
"""

from __future__ import annotations

import asyncio
import os
import select
import stat
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import orjson

from edge.http.messages import Request

FLUSH_S = 0.2
MAX_PENDING = 4096  # lines: a burst is written early rather than growing the buffer
# The workers of a node share one stderr. Each write holds whole lines, so lines of two
# processes never mix: the kernel keeps a write to a file whole, and one to a pipe or a socket
# (a container's log) only up to PIPE_BUF bytes.
FILE_WRITE = 1024**2
LINE = (
    '{"ts":%.3f,"method":"%s","path":%s,"status":%d,"cache":"%s","bytes":%d,"ms":%.3f,'
    '"peer":"%s"%s}'
)

Entry = tuple[float, str, str, int, str, int, float, str, str]


class AccessLog:
    def __init__(
        self,
        out: BinaryIO | None = None,
        redact: Callable[[str], str] = str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.out = out if out is not None else sys.stderr.buffer
        self.clock = clock  # each line's timestamp
        self.redact = redact  # what of a target must not reach the log (signatures)
        self.write_size = _atomic_write_size(self.out)
        self._pending: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None

    def log(
        self,
        request: Request,
        status: int,
        x_cache: str,
        sent: int,
        seconds: float,
        tls: str = "",  # the connection's `,"tls":...,"resumed":...` fields, if HTTPS
    ) -> None:
        pending = self._pending
        pending.append(
            (
                self.clock(),
                request.method,
                request.target,
                status,
                x_cache,
                sent,
                seconds,
                request.peer,
                tls,
            )
        )
        if len(pending) >= MAX_PENDING:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        entries, self._pending = self._pending, []
        if entries:
            for chunk in whole_lines(format_lines(entries, self.redact), self.write_size):
                self.out.write(chunk)
                self.out.flush()


def whole_lines(data: bytes, size: int) -> Iterator[bytes]:
    """`data` in pieces of at most `size` bytes that end at a line's end (a longer line is a
    piece of its own)."""
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + size) + 1
        if end <= start:
            end = data.find(b"\n", start) + 1 or len(data)
        yield data[start:end]
        start = end


def _atomic_write_size(out: BinaryIO) -> int:
    try:
        mode = os.fstat(out.fileno()).st_mode
    except (OSError, ValueError, AttributeError):  # not a real file (a test's BytesIO)
        return FILE_WRITE
    return FILE_WRITE if stat.S_ISREG(mode) else select.PIPE_BUF


def format_lines(entries: list[Entry], redact: Callable[[str], str] = str) -> bytes:
    lines = [
        LINE
        % (ts, method, _json_string(redact(path)), status, cache, sent, seconds * 1000, peer, tls)
        for ts, method, path, status, cache, sent, seconds, peer, tls in entries
    ]
    lines.append("")
    # targets are ASCII (the protocol percent-encodes the rest), so this cannot fail
    return "\n".join(lines).encode("ascii", "backslashreplace")


def _json_string(text: str) -> str:
    if '"' in text or "\\" in text or not text.isprintable():
        return orjson.dumps(text).decode()
    return f'"{text}"'
