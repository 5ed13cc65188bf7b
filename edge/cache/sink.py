"""Where a segment fill's bytes go on their way to the disk tier: a temp file, via aiofiles.

A write error (disk full, I/O error) does not fail the fill: the sink turns itself off, the
bytes keep flowing to the waiters, and the object is simply not stored (counted, logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

log = logging.getLogger("edge.sink")


class TempFileSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed: OSError | None = None
        self._file: Any = None

    async def open(self) -> None:
        try:
            # unbuffered: waiters read the file while it grows, so a byte counted as written
            # must be in the file, not in a user-space buffer
            self._file = await aiofiles.open(self.path, "wb", buffering=0)
        except OSError as exc:
            self._fail(exc)

    async def write(self, chunk: bytes) -> None:
        if self._file is None:
            return
        try:
            written = await self._file.write(chunk)
        except OSError as exc:
            self._fail(exc)
            return
        if written != len(chunk):  # a short write on a regular file: the disk is full
            self._fail(OSError(f"short write: {written} of {len(chunk)} bytes"))

    async def close(self) -> bool:
        """Flush and close; True when every byte reached the file."""
        if self._file is not None:
            try:
                await self._file.close()
            except OSError as exc:
                self._fail(exc)
            self._file = None
        return self.failed is None

    async def discard(self) -> None:
        await self.close()
        with contextlib.suppress(OSError):
            await aiofiles.os.remove(self.path)

    def _fail(self, exc: OSError) -> None:
        if self.failed is None:
            log.warning("disk write failed, serving by proxy", extra={"error": str(exc)})
        self.failed = exc
        if self._file is not None:
            file, self._file = self._file, None
            asyncio.ensure_future(file.close()).add_done_callback(_ignore_result)


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
