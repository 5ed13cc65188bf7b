"""A node of two worker processes keeps the one-fetch rule for held LL-HLS playlist reloads:
blocking reloads of one rendition, MSN and part spread over both workers share one upstream
request, and every waiter gets the playlist when it lands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.test_workers import answered_by, assert_spread, edge_node, is_spread
from tests.support.http1 import fetch
from tests.support.llplaylists import playlist
from tests.support.recording_upstream import Answer

pytestmark = pytest.mark.e2e
PLAYLIST = "/live/ll/180p/index.m3u8"


async def test_two_workers_share_one_held_fill(tmp_path: Path) -> None:
    body = playlist(6, parts_last=8, trailing=4).encode()
    async with edge_node(tmp_path, 2) as node:
        # the upstream "holds" each blocking reload for about a second, like an LL origin
        node.upstream.answers[PLAYLIST] = Answer(body, cache_control="max-age=24", send_seconds=1.0)
        # a burst may land on one worker only; another part is another try. The answer ends at
        # part 3 of 106, so none of these is satisfied by what a worker already holds.
        for msn, part in [(107, 0), (107, 1), (108, 0)]:
            target = f"{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}"
            before = await node.scrape()
            async with asyncio.timeout(20):
                replies = await asyncio.gather(*(fetch(node.port, target) for _ in range(40)))
            answered = answered_by(before, await node.scrape())
            assert [r.status for r in replies] == [200] * 40
            assert all(r.body == body for r in replies)
            assert node.upstream.targets.count(target) == 1, node.upstream.targets
            if is_spread(answered):
                break
    assert_spread(answered)
