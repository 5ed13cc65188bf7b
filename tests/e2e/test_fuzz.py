"""Raw-socket fuzzing of real edge processes (one plain, one verifying signed URLs): a few
thousand malformed requests (seeded, so a failure replays) must never get a 5xx, never crash
or slow an edge for good, never grow its memory without bound, and never write a traceback to
its log.

Run alone with figures: `python -m pytest tests/e2e/test_fuzz.py -q -s`.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.fuzz_requests import requests
from tests.support.process import SAMPLE_ORIGIN, Service, run_service

pytestmark = pytest.mark.e2e
SEED = int(os.environ.get("CLASSCAST_FUZZ_SEED", "20261127"))
COUNT = int(os.environ.get("CLASSCAST_FUZZ_COUNT", "5000"))
CONCURRENCY = 24
ANSWER_TIMEOUT_S = 3.0
HALF_CLOSE_AFTER_S = 0.5
RUN_BUDGET_S = 40.0
RSS_GROWTH_LIMIT = 128 * 1024**2  # both edges together
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


@dataclass
class FuzzRun:
    sent: int = 0
    answered: int = 0
    closed_without_answer: int = 0
    timed_out: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[tuple[str, int, bytes]] = field(default_factory=list)
    rss_before: int = 0
    rss_after: int = 0
    seconds: float = 0.0
    log: str = ""
    healthy_after: bool = False


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """Bytes up to the end of the first answer's head, or all there was before EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    return data


async def send(host: str, port: int, kind: str, data: bytes, run: FuzzRun) -> None:
    run.sent += 1
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(data)
                await writer.drain()
            except ConnectionError:
                pass  # the edge refused it mid-send: an answer may still be there
            try:
                answer = await asyncio.wait_for(read_head(reader), HALF_CLOSE_AFTER_S)
            except TimeoutError:  # a head the edge still waits to complete: say it is all
                writer.write_eof()
                answer = await read_head(reader)
            writer.close()
    except TimeoutError:
        run.timed_out += 1
        return
    except ConnectionError:
        run.closed_without_answer += 1
        return
    status = STATUS.match(answer)
    if status is None:
        run.closed_without_answer += 1
        return
    run.answered += 1
    run.statuses[int(status[1])] += 1
    if int(status[1]) >= 500:
        run.server_errors.append((kind, int(status[1]), data[:200]))


async def fuzz(edges: list[Service]) -> FuzzRun:
    """Requests go to the edges in turn (one plain, one that verifies signed URLs)."""
    addresses = [edge.url.removeprefix("http://").split(":") for edge in edges]
    run = FuzzRun(rss_before=sum(rss(edge.process.pid) for edge in edges))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, kind: str, data: bytes) -> None:
        host, port = addresses[index % len(addresses)]
        async with gate:
            await send(host, int(port), kind, data, run)

    started = time.monotonic()
    async with asyncio.timeout(RUN_BUDGET_S):
        await asyncio.gather(
            *(one(index, kind, data) for index, (kind, data) in enumerate(requests(SEED, COUNT)))
        )
    run.seconds = time.monotonic() - started
    run.rss_after = sum(rss(edge.process.pid) for edge in edges)
    return run


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzRun]:
    logs = tmp_path_factory.mktemp("fuzz-logs")
    keys = ["--sign-key", "fuzz-key-0123456789abcdef"]
    with (
        run_service("origin", SAMPLE_ORIGIN, logs / "origin.log") as origin,
        run_service("edge", ["--upstream", origin.url], logs / "edge.log") as edge,
        run_service("edge", ["--upstream", origin.url, *keys], logs / "signed.log") as signed,
    ):
        run = asyncio.run(fuzz([edge, signed]))
        run.healthy_after = all(
            urllib.request.urlopen(e.url + "/healthz", timeout=5).status == 200
            and e.process.poll() is None
            for e in (edge, signed)
        )
    run.log = edge.log() + signed.log()  # stopped: a draining edge flushes its access log
    print(
        f"\nfuzz seed={SEED}: {run.sent} requests in {run.seconds:.1f} s, {run.answered} answered, "
        f"{run.closed_without_answer} closed without an answer, {run.timed_out} timed out; "
        f"5xx: {len(run.server_errors)}; statuses {dict(sorted(run.statuses.items()))}; "
        f"RSS {run.rss_before / 2**20:.0f} -> {run.rss_after / 2**20:.0f} MiB; "
        f"tracebacks in log: {run.log.count('Traceback')}, "
        f"error lines: {run.log.count(chr(34) + 'level' + chr(34) + ':' + chr(34) + 'error')}"
    )
    yield run


def test_no_malformed_request_gets_a_5xx(fuzzed: FuzzRun) -> None:
    assert fuzzed.sent == COUNT
    # most requests must be answered, or the run tested nothing (the rest: the edge closed)
    assert fuzzed.answered > COUNT // 2
    assert fuzzed.server_errors == []
    assert fuzzed.timed_out == 0  # every request got an answer or a close within the timeout


def test_the_edge_stays_healthy_and_its_memory_bounded(fuzzed: FuzzRun) -> None:
    assert fuzzed.healthy_after
    assert fuzzed.rss_after - fuzzed.rss_before < RSS_GROWTH_LIMIT


def test_malformed_requests_write_no_traceback_to_the_log(fuzzed: FuzzRun) -> None:
    assert "Traceback" not in fuzzed.log
    assert '"level":"error"' not in fuzzed.log
