"""The access log of a node's workers shares one stderr: every write holds whole lines."""

from __future__ import annotations

import os
import select
from typing import Any

import pytest

from edge.http.accesslog import AccessLog, whole_lines
from edge.http.messages import Request


@pytest.mark.parametrize(
    ("data", "size", "pieces"),
    [
        (b"aa\nbb\ncc\n", 100, [b"aa\nbb\ncc\n"]),
        (b"aa\nbb\ncc\n", 6, [b"aa\nbb\n", b"cc\n"]),
        (b"aa\nbb\ncc\n", 3, [b"aa\n", b"bb\n", b"cc\n"]),
        (b"a-long-line\nb\n", 4, [b"a-long-line\n", b"b\n"]),  # too long: a piece of its own
        (b"", 10, []),
    ],
)
def test_pieces_end_at_line_ends(data: bytes, size: int, pieces: list[bytes]) -> None:
    assert list(whole_lines(data, size)) == pieces


async def test_a_pipe_gets_writes_no_longer_than_pipe_buf_and_of_whole_lines() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    writes: list[bytes] = []
    with os.fdopen(write_end, "wb") as out:
        log = AccessLog(out)
        original = out.raw.write

        def counted(data: Any) -> int | None:
            writes.append(bytes(data))
            return original(data)

        out.raw.write = counted  # type: ignore[method-assign]
        request = Request("GET", "/vod/lesson/360p/seg_00001.ts", {}, peer="127.0.0.1")
        for _ in range(200):
            log.log(request, 200, "HIT", 1000, 0.001)
        log.flush()
    data = os.read(read_end, 1 << 20)
    os.close(read_end)
    assert data.count(b"\n") == 200
    assert len(writes) > 1
    assert all(len(w) <= select.PIPE_BUF and w.endswith(b"\n") for w in writes)
