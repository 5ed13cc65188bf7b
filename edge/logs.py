"""JSON logs, one object per line (orjson), for the service log and the access log."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from edge.signing import redact

FLUSH_S = 0.2
STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in STANDARD_ATTRS)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class JsonAccessLogger(AbstractAccessLogger):
    """One JSON line per request, written to a buffer flushed at least every FLUSH_S.

    It bypasses the logging module: a record through `logging` cost more than the rest of a
    hot playlist hit (BENCHMARKS.md, "access log on"). aiohttp only calls it when `enabled`.
    """

    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    _pending: list[bytes] = []
    _flush_scheduled = False

    @property
    def enabled(self) -> bool:
        return True

    def log(self, request: BaseRequest, response: StreamResponse, duration: float) -> None:
        entry = {
            "ts": round(time.time(), 3),
            "method": request.method,
            "path": redact(request.raw_path),  # no replayable token in logs
            "status": response.status,
            "cache": response.headers.get("X-Cache", "-"),
            # zero-copy bodies bypass aiohttp's byte count; the length we promised was sent
            "bytes": response.content_length or response.body_length,
            "ms": round(duration * 1000, 3),
            "peer": request.remote,
        }
        cls = JsonAccessLogger
        cls._pending.append(orjson.dumps(entry))
        if not cls._flush_scheduled:
            cls._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_S, cls.flush)

    @classmethod
    def flush(cls) -> None:
        cls._flush_scheduled = False
        lines, cls._pending = cls._pending, []
        if lines and cls.out is not None:
            cls.out.write(b"\n".join(lines) + b"\n")
            cls.out.flush()
