"""The hub as tables: given what workers 0, 1 and 2 say, in order, what it sends each of them
back (and what else it asks its caller to do). No sockets, no processes: the hub does no I/O,
so each row is one call and its effects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from classcast.clock import FakeClock
from edge.cache.disk import DiskOwner
from edge.cache.freshness import Freshness
from edge.cache.memory import MemoryTier
from edge.cache.objects import ObjectMeta
from edge.node import messages as m
from edge.node.hub import (
    ASK_TIMEOUT_S,
    DeleteFiles,
    Effect,
    Hub,
    Recover,
    RemoveTemps,
    Send,
    WakeAt,
)

K = "/v/a.ts"
PLAYLIST = "/v/a.m3u8"
PID = {0: 100, 1: 101, 2: 102}


def meta(key: str, length: int = 1000, stored_at: float = 50.0) -> dict[str, object]:
    return ObjectMeta(
        key=key,
        kind="segment",
        status=200,
        content_type="video/mp2t",
        length=length,
        etag='"e"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
        last_modified_ts=None,
        stored_at=stored_at,
        initial_age=0.0,
        freshness=Freshness(3600.0),
    ).to_dict()


HEAD = m.FillHead(K, 200, [["ETag", '"e"']], 1000, meta(K), "/c/tmp/a-100-1.part")
GREW = m.FillGrew(K, 65536)
DONE = m.FillDone(K, "stored", meta(K), 1000)
ON_DISK = m.Stored(K, "disk", meta(K), "/c/ab/cd/a.data", 0)
IN_MEMORY = m.Stored(PLAYLIST, "memory", meta(PLAYLIST, 8), None, 0, b"#EXTM3U\n")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def hub(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Hub]:
    disk = DiskOwner(tmp_path, 2500)  # room for two 1000-byte objects
    hub = Hub(disk, MemoryTier(1024**2, 1024), clock=clock)
    for wid in (0, 1, 2):
        hub.joined(wid, wid, PID[wid])
    yield hub
    await disk.close()


LEFT = None  # a row's message when the worker's channel closed
Row = tuple[int, m.Message | None, dict[int, list[m.Message]], list[Effect]]


def play(hub: Hub, rows: Sequence[Row]) -> None:
    """Each row: who says what (LEFT: that worker's channel closed), what each worker is sent
    in order, and the other effects."""
    for number, (wid, message, sent, other) in enumerate(rows):
        effects = hub.left(wid) if message is None else hub.received(wid, message)
        got: dict[int, list[m.Message]] = {}
        for effect in effects:
            if isinstance(effect, Send):
                got.setdefault(effect.to, []).append(effect.message)
        rest = [effect for effect in effects if not isinstance(effect, Send)]
        assert (got, rest) == (sent, other), f"row {number}: {wid} says {message}"


def test_the_first_claim_fills_and_later_ones_follow_its_progress(hub: Hub) -> None:
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (1, m.Claim(1, K, None), {1: [m.Claimed(1, K, "follow")]}, []),
            (0, HEAD, {1: [HEAD]}, []),
            (1, HEAD, {}, []),  # only the filler's word counts
            (0, GREW, {1: [GREW]}, []),
            # a late follower is told what the others heard, in order
            (2, m.Claim(4, K, None), {2: [m.Claimed(4, K, "follow"), HEAD, GREW]}, []),
            (0, m.FillGrew(K, 1000), {1: [m.FillGrew(K, 1000)], 2: [m.FillGrew(K, 1000)]}, []),
            (0, DONE, {1: [DONE], 2: [DONE]}, []),
            (0, m.FillGrew(K, 1000), {}, []),  # after its end: nobody follows any more
        ],
    )
    assert not hub.claims


def test_a_claim_of_its_own_stays_its_own(hub: Hub) -> None:
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (0, m.Claim(2, K, None), {0: [m.Claimed(2, K, "fill")]}, []),
        ],
    )


def test_what_one_worker_stored_goes_to_the_others_and_newer_copies_are_handed_over(
    hub: Hub,
) -> None:
    newer = replace(IN_MEMORY, meta=meta(PLAYLIST, 8, stored_at=60.0))
    play(
        hub,
        [
            (0, IN_MEMORY, {1: [IN_MEMORY], 2: [IN_MEMORY]}, []),
            # 1 holds nothing: the node's copy first, then the answer
            (1, m.Claim(1, PLAYLIST, None), {1: [IN_MEMORY, m.Claimed(1, PLAYLIST, "newer")]}, []),
            # 2 holds that very copy (stored at 50): it fetches
            (2, m.Claim(1, PLAYLIST, 50.0), {2: [m.Claimed(1, PLAYLIST, "fill")]}, []),
            # while 2 fills, nobody is handed a copy: they follow the fill
            (0, m.Claim(2, PLAYLIST, None), {0: [m.Claimed(2, PLAYLIST, "follow")]}, []),
            (2, newer, {0: [newer], 1: [newer]}, []),
        ],
    )
    assert hub.memory.get(PLAYLIST) is not None


def test_a_filler_lost_before_its_head_lets_a_follower_fill_from_the_start(hub: Hub) -> None:
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (1, m.Claim(1, K, None), {1: [m.Claimed(1, K, "follow")]}, []),
            (2, m.Claim(1, K, None), {2: [m.Claimed(1, K, "follow")]}, []),
            (0, LEFT, {1: [m.Abandoned(K)], 2: [m.Abandoned(K)]}, [Recover(K), RemoveTemps(100)]),
            (2, m.Claim(2, K, None), {2: [m.Claimed(2, K, "fill")]}, []),
            (1, m.Claim(2, K, None), {1: [m.Claimed(2, K, "follow")]}, []),
        ],
    )


def test_a_filler_lost_after_its_head_is_taken_over_and_nobody_hears_its_old_progress(
    hub: Hub,
) -> None:
    again = replace(HEAD, temp="/c/tmp/a-101-2.part")
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (1, m.Claim(1, K, None), {1: [m.Claimed(1, K, "follow")]}, []),
            (0, HEAD, {1: [HEAD]}, []),
            (0, GREW, {1: [GREW]}, []),
            (0, LEFT, {1: [m.Abandoned(K)]}, [Recover(K), RemoveTemps(100)]),
            (0, GREW, {}, []),  # a late word from the dead one is nobody's
            (1, m.Claim(2, K, None), {1: [m.Claimed(2, K, "fill")]}, []),
            (2, m.Claim(1, K, None), {2: [m.Claimed(1, K, "follow")]}, []),  # no old head
            (1, again, {2: [again]}, []),
            (1, DONE, {2: [DONE]}, []),
        ],
    )


def test_a_filler_that_lets_go_sends_its_followers_to_claim_again(hub: Hub) -> None:
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (1, m.Claim(1, K, None), {1: [m.Claimed(1, K, "follow")]}, []),
            (1, m.Abandoned(K), {}, []),  # not its to give up
            (0, m.Abandoned(K), {1: [m.Abandoned(K)]}, []),
        ],
    )
    assert not hub.claims


def test_a_follower_lost_is_no_longer_told(hub: Hub) -> None:
    play(
        hub,
        [
            (0, m.Claim(1, K, None), {0: [m.Claimed(1, K, "fill")]}, []),
            (1, m.Claim(1, K, None), {1: [m.Claimed(1, K, "follow")]}, []),
            (1, LEFT, {}, [RemoveTemps(101)]),
            (0, HEAD, {}, []),
        ],
    )


def test_a_purge_while_a_fill_runs_refuses_what_was_stored_before_it(
    hub: Hub, clock: FakeClock
) -> None:
    order = m.PurgeOrder(1, 1, K, False)
    evicted = m.Evict(K, ON_DISK.path or "")
    after = replace(ON_DISK, epoch=1)
    play(
        hub,
        [
            (2, ON_DISK, {0: [ON_DISK], 1: [ON_DISK]}, []),
            (0, m.Claim(1, K, 50.0), {0: [m.Claimed(1, K, "fill")]}, []),  # refreshing it
            # the node's copy goes at once; each worker is asked to forget its own
            (
                1,
                m.Purge(5, K, False),
                {w: [evicted, order] for w in (0, 1, 2)},
                [WakeAt(clock() + ASK_TIMEOUT_S)],
            ),
            (0, m.PurgedHere(1, []), {}, []),
            (1, m.PurgedHere(1, [K]), {}, []),
            (2, m.PurgedHere(1, [K]), {1: [m.Purged(5, 1)]}, []),  # one object, two copies
            # 0 stored its fill before it heard of the purge: not the node's
            (0, ON_DISK, {}, [DeleteFiles(Path(ON_DISK.path or ""))]),
            (0, DONE, {}, []),
            (0, after, {1: [after], 2: [after]}, []),  # stored after it: kept
        ],
    )
    assert hub.disk.get(K) is not None and not hub.claims


def test_a_purge_by_prefix_answers_with_the_workers_that_replied_in_time(
    hub: Hub, clock: FakeClock
) -> None:
    order = m.PurgeOrder(1, 1, "/v/", True)
    play(
        hub,
        [
            (2, m.Purge(3, "/v/", True), {w: [order] for w in (0, 1, 2)}, [WakeAt(1002.0)]),
            (0, m.PurgedHere(1, ["/v/b.ts"]), {}, []),
            (0, m.PurgedHere(1, ["/v/c.ts"]), {}, []),  # one reply per worker
        ],
    )
    clock.advance(ASK_TIMEOUT_S - 0.1)
    assert hub.expire() == []  # woken early (uvloop's timers may be): still waiting
    assert hub.next_deadline() == 1002.0
    clock.advance(0.1)
    assert hub.expire() == [Send(2, m.Purged(3, 1))]
    assert hub.expire() == [] and hub.next_deadline() is None


def test_a_gather_sums_the_workers_that_answered_and_those_gone(hub: Hub, clock: FakeClock) -> None:
    def snap(hits: float) -> dict[str, object]:
        return {"requests": {"HIT": hits}, "counters": {"fills": 1.0}, "gauges": {"open": 2.0}}

    play(
        hub,
        [
            (2, m.Report(snap(5)), {}, []),
            (2, LEFT, {}, [RemoveTemps(102)]),  # its counters stay in the node's sums
            (0, m.Gather(9), {0: [m.AskSnapshot(1)], 1: [m.AskSnapshot(1)]}, [WakeAt(1002.0)]),
            (1, m.SnapshotReply(1, snap(2)), {}, []),
        ],
    )
    clock.advance(ASK_TIMEOUT_S)  # 0 never answers its own question
    [answer] = hub.expire()
    assert isinstance(answer, Send) and answer.to == 0
    assert isinstance(answer.message, m.Gathered)
    total = answer.message.total
    assert total["requests"] == {"HIT": 7.0} and total["counters"] == {"fills": 2.0}
    assert total["gauges"]["open"] == 2.0  # gauges of the living only
    assert total["gauges"]["workers"] == 2
    assert answer.message.workers == [
        {"index": 1, "pid": 101, "gauges": {"open": 2.0, "requests": 2.0}}
    ]


def test_a_gather_is_answered_when_the_last_worker_it_waits_for_dies(hub: Hub) -> None:
    hub.received(0, m.Gather(9))
    hub.received(0, m.SnapshotReply(1, {"requests": {}, "counters": {}, "gauges": {}}))
    hub.received(1, m.SnapshotReply(1, {"requests": {}, "counters": {}, "gauges": {}}))
    effects = hub.left(2)
    assert [type(e.message) for e in effects if isinstance(e, Send)] == [m.Gathered]


def test_the_budget_evicts_in_every_worker_whoever_stored(hub: Hub) -> None:
    def on_disk(number: int) -> m.Stored:
        key = f"/v/{number}.ts"
        return m.Stored(key, "disk", meta(key), f"/c/{number}.data", 0)

    first, second, third = on_disk(1), on_disk(2), on_disk(3)
    evicted = m.Evict(second.key, second.path or "")
    gone = m.Evict(first.key, first.path or "")
    play(
        hub,
        [
            (0, first, {1: [first], 2: [first]}, []),
            (1, second, {0: [second], 2: [second]}, []),
            (0, m.Touch([first.key]), {}, []),  # a hit in 0: the first is the newest now
            # over the budget: the least recently used goes, in every worker (its file too)
            (2, third, {0: [evicted, third], 1: [evicted, third], 2: [evicted]}, []),
            # a worker found a file gone: every worker forgets it
            (1, m.Gone(first.key, first.path or ""), {w: [gone] for w in (0, 1, 2)}, []),
            (1, m.Gone(first.key, first.path or ""), {}, []),  # once
        ],
    )
    assert hub.disk.keys() == [third.key]


def test_a_message_for_workers_is_refused_by_the_hub(hub: Hub) -> None:
    with pytest.raises(m.BadMessage, match="Claimed is not for the hub"):
        hub.received(0, m.Claimed(1, K, "fill"))


def test_a_worker_that_said_it_serves_is_ready(hub: Hub) -> None:
    assert hub.received(1, m.Ready()) == []
    assert hub.workers[1].ready and not hub.workers[0].ready
