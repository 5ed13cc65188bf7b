"""The access log: one JSON line per answer, buffered and flushed at least every FLUSH_S.

It bypasses the logging module: a record through `logging` cost more than the rest of a hot
playlist hit (BENCHMARKS.md, "access log on").
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import BinaryIO

import orjson

from edge.http.messages import Request

FLUSH_S = 0.2
MAX_PENDING = 4096  # lines: a burst flushes early rather than growing the buffer


class AccessLog:
    def __init__(self, out: BinaryIO | None = None) -> None:
        self.out = out if out is not None else sys.stderr.buffer
        self._pending: list[bytes] = []
        self._flush_scheduled = False

    def log(self, request: Request, status: int, x_cache: str, sent: int, seconds: float) -> None:
        self._pending.append(
            orjson.dumps(
                {
                    "ts": round(time.time(), 3),
                    "method": request.method,
                    "path": request.target,
                    "status": status,
                    "cache": x_cache,
                    "bytes": sent,
                    "ms": round(seconds * 1000, 3),
                    "peer": request.peer,
                }
            )
        )
        if len(self._pending) >= MAX_PENDING:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        lines, self._pending = self._pending, []
        if lines:
            self.out.write(b"\n".join(lines) + b"\n")
            self.out.flush()
