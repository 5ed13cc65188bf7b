"""Proof that disk hits really leave through os.sendfile: the edge's syscalls, traced by strace."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import CONTENT, Stack
from tests.support.process import ROOT, free_port, stop, wait_ready
from tests.support.wait import until_sync

pytestmark = pytest.mark.e2e
SEGMENT = "/vod/math-fractions/360p/seg_00003.ts"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
        return dict(answer.headers), answer.read()


@pytest.mark.parametrize("sendfile", [True, False])
def test_disk_hits_are_sent_with_sendfile_and_the_fallback_copies(
    stack: Stack, tmp_path: Path, sendfile: bool
) -> None:
    if shutil.which("strace") is None:
        pytest.fail("strace is missing: scripts/setup --dev installs it")
    trace = tmp_path / "trace"
    port = free_port()
    command = [
        "strace",
        "-f",
        "-qq",
        "-y",
        "--seccomp-bpf",
        "-e",
        "trace=sendfile,pread64,preadv2",
        "-o",
        str(trace),
        sys.executable,
        "-m",
        "edge",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--upstream",
        stack.origin.url,
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    if not sendfile:
        command.append("--no-sendfile")
    log = tmp_path / "edge.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        expected = (CONTENT / SEGMENT.removeprefix("/vod/")).read_bytes()
        miss_headers, miss = get(url + SEGMENT)
        hit_headers, hit = get(url + SEGMENT)
        whole_bodies = 2

        def hit_at_last() -> bool:  # a request right after the MISS may join the committing fill
            nonlocal hit_headers, hit, whole_bodies
            if hit_headers["X-Cache"] == "HIT":
                return True
            hit_headers, hit = get(url + SEGMENT)
            whole_bodies += 1
            return False

        until_sync(hit_at_last, 2, "a HIT after the MISS")
        _, part = get(url + SEGMENT, {"Range": "bytes=1000-20999"})
    finally:
        # stop the traced edge itself; strace then exits with its status
        (edge_pid,) = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        os.kill(int(edge_pid), signal.SIGTERM)
        assert stop(process) == 0
    assert miss == hit == expected
    assert part == expected[1000:21000]
    assert (miss_headers["X-Cache"], hit_headers["X-Cache"]) == ("MISS", "HIT")
    calls = trace.read_text()
    # -y names each descriptor: count only the calls that carry the segment's file, the temp
    # file a MISS streams from while it grows (.part, or .data once renamed) or the cached one
    cached = r"\d+<[^>]*\.(?:data|part)>"
    sent = [
        int(n) for n in re.findall(rf"sendfile\(\d+<socket:.*?>, {cached}, .*\) = (\d+)", calls)
    ]
    # pread64 in a thread, or preadv2(RWF_NOWAIT) on the loop for page-cached blocks
    copied = [int(n) for n in re.findall(rf"pread(?:64|v2)\({cached}, .*\) = (\d+)", calls)]
    total = whole_bodies * len(expected) + 20000  # every body, the MISS's too, from a file
    if sendfile:
        assert sum(sent) == total, calls[-2000:]
        assert sum(copied) == 0
    else:
        assert sent == []
        assert sum(copied) == total
