"""The hot tier in a node of two workers (issue 21): each worker fills its hot tier from the
node's one fill (the file it wrote), never from upstream; the budget is the node's, shared by
the workers; a worker that dies is replaced and its successor promotes anew from the same file.

Real processes on loopback; every request on a fresh connection, so the kernel spreads them;
which worker answered what is told by the per-worker metrics."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.test_workers import (
    SEGMENT,
    Metrics,
    Node,
    Proc,
    edge_node,
    is_whole,
    payload,
)
from tests.support.http1 import fetch
from tests.support.recording_upstream import Answer
from tests.support.wait import until

pytestmark = pytest.mark.e2e
KIB = 1024
HOT = "/vod/hot/360p/seg_00001.ts"  # fits a worker's share of the budget
BIG = "/vod/hot/360p/seg_00002.ts"  # fits the node's budget, not a worker's share
NODE_BUDGET = 512 * KIB


def promotions(metrics: Metrics) -> dict[int, float]:
    return metrics.per_worker("classcast_edge_worker_hot_promotions")


async def hit_until_promoted(node: Node, path: str, body: bytes, pids: set[int]) -> Metrics:
    """Hit `path` on fresh connections until every worker in `pids` has promoted something."""
    metrics: list[Metrics] = []

    async def every_worker_promoted() -> bool:
        for _ in range(8):
            reply = await fetch(node.port, path)
            assert is_whole(reply, body), reply
        metrics[:] = [await node.scrape()]
        promoted = promotions(metrics[0])
        return all(promoted.get(pid, 0) >= 1 for pid in pids)

    await until(every_worker_promoted, 20, f"both workers promoting {path}")
    return metrics[0]


async def test_each_worker_promotes_from_the_nodes_one_fill_and_after_a_restart(
    tmp_path: Path,
) -> None:
    hot, big = payload(HOT, 200 * KIB), payload(BIG, 300 * KIB)
    async with edge_node(tmp_path, 2, "--hot", str(NODE_BUDGET)) as node:
        node.upstream.answers[HOT] = Answer(hot, SEGMENT)
        node.upstream.answers[BIG] = Answer(big, SEGMENT)
        first = node.worker_procs()
        metrics = await hit_until_promoted(node, HOT, hot, {p.pid for p in first})
        for _ in range(10):
            assert is_whole(await fetch(node.port, BIG), big)
        metrics = await node.scrape()
        held = metrics.per_worker("classcast_edge_worker_hot_bytes")
        # each worker holds the one segment that fits its half of the node's budget
        assert held == {p.pid: len(hot) for p in first}, held
        assert sum(held.values()) <= NODE_BUDGET
        assert metrics.value("classcast_edge_hot_hits") > 0
        assert node.upstream.hits(HOT) == 1 and node.upstream.hits(BIG) == 1

        victim = next(iter(first))
        os.kill(victim.pid, signal.SIGKILL)

        def replaced() -> bool:
            procs = node.worker_procs()
            return len(procs) == 2 and victim not in procs

        await until(replaced, 5, "a new worker in place of the killed one")
        await node.scrape_until(
            lambda m: m.value("classcast_edge_workers") == 2, 10, "2 workers serving"
        )
        successor: Proc = next(iter(node.worker_procs() - first))
        await hit_until_promoted(node, HOT, hot, {successor.pid})
        assert node.upstream.hits(HOT) == 1  # the successor read the node's file, not upstream
