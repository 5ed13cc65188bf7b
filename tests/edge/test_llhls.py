"""LL-HLS at the edge, end to end against a scripted upstream on loopback: blocking reloads
answered from cache or held on one shared fill, the spec's local 400/503, ended playlists,
held hinted parts, delta updates and Appendix B lifetimes."""

from __future__ import annotations

import asyncio

import aiohttp

from classcast.llhls import read_facts
from edge.cache.keys import cache_key
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, FillWaiters, ScriptedUpstream
from tests.edge.test_llhls_holds import HeldRequests
from tests.support.llplaylists import playlist

PLAYLIST = "/live/ch/360p/index.m3u8"
HLS = {"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "max-age=1"}
BLOCKING = {**HLS, "Cache-Control": "max-age=24"}
# the plain playlist ends at part 2 of segment 106 (see tests/support/llplaylists.py)
NOW = playlist(6, parts_last=8, trailing=3)
NEXT = playlist(6, parts_last=8, trailing=4)


def blocking_path(msn: int, part: int | None = None, extra: str = "") -> str:
    query = f"_HLS_msn={msn}" + (f"&_HLS_part={part}" if part is not None else "")
    return f"{PLAYLIST}?{query}{extra}"


def upstream_path(msn: int, part: int) -> str:
    """The key's query as the edge sends it upstream (sorted, tokens dropped)."""
    return str(cache_key(blocking_path(msn, part)))


async def test_a_satisfied_blocking_reload_is_answered_from_cache(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    assert (await edge.get(PLAYLIST)).status == 200
    for msn, part in [(106, 2), (106, 0), (105, None), (104, 7)]:
        response = await edge.get(blocking_path(msn, part))
        assert (response.status, response.headers["X-Cache"]) == (200, "HIT")
        assert await response.text() == NOW
    assert sum(fake.hits.values()) == 1  # the plain playlist, once
    assert edge.edge.handler.low_latency.answered_locally == 4


async def test_holds_for_one_part_share_one_upstream_request_and_wake_on_the_fill(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    gate = asyncio.Event()
    target = upstream_path(106, 3)
    fake.put(target, NEXT.encode(), headers=BLOCKING, gate=gate)
    assert (await edge.get(PLAYLIST)).status == 200
    url = edge.make_url(blocking_path(106, 3, "&token=viewer"))
    held = HeldRequests(edge)

    async def hold(session: aiohttp.ClientSession) -> tuple[int, str, str]:
        async with session.get(url) as response:
            return response.status, response.headers["X-Cache"], await response.text()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(hold(session)) for _ in range(50)]
        await held.until(50)  # all 50 wait on one shared answer (edge/http/messages.py Held)
        assert fake.hits[target] == 1  # held upstream, once, while 50 viewers wait
        gate.set()
        results = await asyncio.gather(*tasks)
    assert all(status == 200 and text == NEXT for status, _, text in results)
    assert sorted({label for _, label, _ in results}) == ["COALESCED", "MISS"]
    assert fake.hits[target] == 1
    # rfc8216bis Appendix B: the blocking answer is kept for six target durations
    later = await edge.get(blocking_path(106, 3))
    assert later.headers["X-Cache"] == "HIT"
    assert later.headers["Cache-Control"] == "public, max-age=24"
    # and the edge now knows part 3 exists: an older part is answered from what it holds
    assert (await edge.get(blocking_path(106, 1))).headers["X-Cache"] == "HIT"
    assert read_facts(await (await edge.get(blocking_path(106, 1))).text()).last_part == 3


async def test_the_spec_400s_are_answered_at_the_edge(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers=HLS)
    await edge.get(PLAYLIST)
    for path, reason in [
        (f"{PLAYLIST}?_HLS_part=2", "_HLS_part needs _HLS_msn"),
        (blocking_path(109, 0), "more than two segments past 106"),
        (f"{PLAYLIST}?_HLS_msn=abc", "decimal integer"),
        (f"{PLAYLIST}?_HLS_msn=106&_HLS_skip=maybe", "_HLS_skip must be YES or v2"),
    ]:
        response = await edge.get(path)
        assert response.status == 400
        assert reason in await response.text()
    assert sum(fake.hits.values()) == 1


async def test_a_hold_past_three_target_durations_is_503(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fast = playlist(6, parts_last=2, target=1)  # 1 s segments: the edge holds at most 3 s
    fake.put(PLAYLIST, fast.encode(), headers=HLS)
    never = asyncio.Event()
    fake.put(str(cache_key(blocking_path(106, 0))), fast.encode(), headers=BLOCKING, gate=never)
    await edge.get(PLAYLIST)
    started = asyncio.get_running_loop().time()
    response = await edge.get(blocking_path(106, 0))
    assert response.status == 503
    assert "within 3 s" in await response.text()
    assert asyncio.get_running_loop().time() - started >= 3.0
    assert edge.edge.handler.low_latency.timed_out == 1
    never.set()


async def test_directives_are_ignored_on_an_ended_playlist(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    ended = playlist(6) + "#EXT-X-ENDLIST\n"
    fake.put(PLAYLIST, ended.encode(), headers=HLS)
    await edge.get(PLAYLIST)
    response = await edge.get(blocking_path(500, 3))  # far ahead: a 400 if it were live
    assert response.status == 200 and await response.text() == ended
    assert sum(fake.hits.values()) == 1


async def test_a_hinted_part_is_held_and_coalesced_never_404(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    hint = "/live/ch/360p/parts/106.3.ts"
    assert 'URI="p106.3.ts"' in NOW  # the builder's hint names the next part
    gate = asyncio.Event()
    body = bytes(188) * 40
    fake.put(
        hint, body, headers={"Content-Type": "video/mp2t", "Cache-Control": "max-age=60"}, gate=gate
    )
    waiters = FillWaiters(edge)
    url = edge.make_url(hint)

    async def fetch(session: aiohttp.ClientSession) -> tuple[int, bytes]:
        async with session.get(url) as response:
            return response.status, await response.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(fetch(session)) for _ in range(20)]
        await waiters.until(lambda: waiters.joins[hint] == 20)
        gate.set()
        results = await asyncio.gather(*tasks)
    assert results == [(200, body)] * 20
    assert fake.hits[hint] == 1


async def test_delta_updates_are_built_at_the_edge(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    full = playlist(12, parts_last=8, trailing=3)
    fake.put(PLAYLIST, full.encode(), headers=HLS)
    for skip, extra in [("YES", ""), ("v2", ',RECENTLY-REMOVED-DATERANGES=""')]:
        delta = await edge.get(f"{PLAYLIST}?_HLS_skip={skip}")
        text = await delta.text()
        assert f"#EXT-X-SKIP:SKIPPED-SEGMENTS=6{extra}" in text
        assert "ETag" not in delta.headers
        blocked = await (await edge.get(blocking_path(112, 1, f"&_HLS_skip={skip}"))).text()
        assert blocked == text  # satisfied by the held full playlist, then cut
    assert [path for path in fake.hits if "_HLS_skip" in path] == []  # the origin never asked
    assert fake.hits[PLAYLIST] == 1


async def test_plain_live_playlist_lifetime_is_half_a_target_duration(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put(PLAYLIST, NOW.encode(), headers={**HLS, "Cache-Control": "max-age=10"})
    edge = await make_edge()
    response = await edge.get(PLAYLIST)
    assert response.headers["Cache-Control"] == "public, max-age=2"


def test_cache_key_keeps_directives_and_drops_tokens_and_cmcd() -> None:
    key = cache_key(f"{PLAYLIST}?CMCD=bl%3D2000&cc_sig=x&_HLS_part=1&_HLS_msn=4&_HLS_skip=YES")
    assert key.query == "_HLS_msn=4&_HLS_part=1&_HLS_skip=YES"
