"""Fill.follow: what a waiter reads while the fill's temp file grows, then memory, then the end."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from edge.cache.disk import OpenFile
from edge.cache.flight import FileSpan, Fill
from edge.cache.keys import CacheKey
from edge.errors import UpstreamError


async def read_all(fill: Fill) -> list[bytes | FileSpan]:
    return [part async for part in fill.follow()]


async def test_a_slow_waiter_reads_every_byte_of_a_growing_file_once() -> None:
    fill = Fill(CacheKey("/v/a.ts"), "segment")
    parts = fill.follow()
    spans = []
    for _ in range(10):
        fill.file_grew(1000)
        fill.file_grew(1000)  # a slow client: the file grows twice while it sends a span
        spans.append(await anext(parts))
    last = asyncio.ensure_future(anext(parts))  # all read: it waits for more, or the end
    fill.finish("stored")
    with pytest.raises(StopAsyncIteration):
        await last
    assert all(isinstance(s, FileSpan) for s in spans)
    covered = [(s.start, s.start + s.count) for s in spans if isinstance(s, FileSpan)]
    assert covered[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert covered[-1][1] == 20_000
    assert len(spans) < 20  # a slow reader takes what has grown in bigger spans


async def test_after_a_disk_error_the_rest_comes_from_memory(tmp_path: Path) -> None:
    fill = Fill(CacheKey("/v/a.ts"), "segment")
    (tmp_path / "t").write_bytes(b"f" * 500)
    fill.reader = OpenFile(os.open(tmp_path / "t", os.O_RDONLY))
    fill.file_grew(500)
    fill.append(b"x" * 300)
    fill.append(b"y" * 200)
    fill.finish("passed")
    assert fill.spilled
    assert await read_all(fill) == [FileSpan(0, 500), b"x" * 300, b"y" * 200]
    with pytest.raises(AssertionError):
        fill.file_grew(1)  # the file part always comes first


async def test_a_failed_fill_raises_so_no_short_body_looks_complete() -> None:
    fill = Fill(CacheKey("/v/a.ts"), "segment")
    fill.file_grew(100)
    parts = fill.follow()
    assert await anext(parts) == FileSpan(0, 100)  # a waiter part-way through the body
    rest = asyncio.ensure_future(anext(parts))
    fill.finish("failed", UpstreamError("short body"))
    with pytest.raises(UpstreamError, match="short body"):
        await rest


async def test_the_temp_file_descriptor_lives_until_the_last_waiter_leaves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t"
    path.write_bytes(b"abc")
    fill = Fill(CacheKey("/v/a.ts"), "segment")
    fill.reader = OpenFile(os.open(path, os.O_RDONLY))
    fill.waiters = 2
    fill.finish("stored")
    fill.leave()
    assert os.pread(fill.reader.fd, 3, 0) == b"abc"  # one waiter still reads
    fill.leave()
    with pytest.raises(OSError):
        os.fstat(fill.reader.fd)
