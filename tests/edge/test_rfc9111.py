"""Issue 17, end to end: the edge as an RFC 9111 shared cache in front of a scripted origin.
One test (or one parametrised test) per numbered failure in the issue; each failed on the edge
before it (the suite's test ids are named where one matches)."""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import pytest

from edge.cache.upstream import RetryBudget
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import (
    EdgeClient,
    FakeClock,
    FillWaiters,
    ScriptedUpstream,
    free_port_url,
    settle,
)

PAGE = b"<p>a page</p>"
TEXT = {"Content-Type": "text/html"}


# 1. stale-close-must-revalidate, -proxy-revalidate, -no-cache, -s-maxage=2
@pytest.mark.parametrize(
    ("cache_control", "stale_allowed"),
    [
        ("max-age=1", True),  # the control: an origin that says nothing more allows it
        ("max-age=1, must-revalidate", False),
        ("max-age=1, proxy-revalidate", False),
        ("no-cache", False),
        ("s-maxage=1", False),
    ],
)
async def test_stale_is_served_on_error_only_where_the_origin_allows_it(
    edge: EdgeClient,
    upstream: tuple[ScriptedUpstream, str],
    clock: FakeClock,
    cache_control: str,
    stale_allowed: bool,
) -> None:
    fake, _ = upstream
    fake.put("/page", PAGE, headers={**TEXT, "Cache-Control": cache_control})
    assert (await edge.get("/page")).status == 200
    clock.advance(5)
    fake.put("/page", PAGE, headers=TEXT, truncate=True)  # the origin drops the connection
    again = await edge.get("/page")
    if stale_allowed:
        assert (again.status, again.headers["X-Cache"]) == (200, "STALE")
    else:
        assert again.status == 502
        assert fake.hits["/page"] == 2


# 2. vary-no-match, vary-omit, vary-2-no-match, vary-3-*, vary-star
async def test_vary_keeps_one_copy_per_variant_and_says_so(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    vary = {**TEXT, "Cache-Control": "max-age=600", "Vary": "Accept-Language, X-Ab"}
    fake.put("/greeting", b"hello", headers=vary)
    en = await edge.get("/greeting", headers={"Accept-Language": "en"})
    assert (en.headers["X-Cache"], en.headers["Vary"]) == ("MISS", "Accept-Language, X-Ab")
    assert fake.seen_headers[-1]["Accept-Language"] == "en"  # the varied field went upstream
    fake.put("/greeting", b"bonjour", headers=vary)
    fr = await edge.get("/greeting", headers={"Accept-Language": "fr"})
    assert (fr.headers["X-Cache"], await fr.read()) == ("MISS", b"bonjour")
    omitted = await edge.get("/greeting")  # no Accept-Language at all: a third variant
    assert omitted.headers["X-Cache"] == "MISS"
    en_again = await edge.get("/greeting", headers={"Accept-Language": "en"})
    assert (en_again.headers["X-Cache"], await en_again.read()) == ("HIT", b"hello")
    fr_again = await edge.get("/greeting", headers={"Accept-Language": "fr", "X-Ab": None or ""})
    assert fr_again.headers["X-Cache"] == "MISS"  # an empty X-Ab is not an absent one
    assert fake.hits["/greeting"] == 4


async def test_vary_star_is_never_reused(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/star", PAGE, headers={**TEXT, "Cache-Control": "max-age=600", "Vary": "*"})
    for _ in range(2):
        assert (await edge.get("/star")).headers["X-Cache"] == "MISS"
    assert fake.hits["/star"] == 2


# 3. freshness-max-age-negative, -single-quoted, -s-maxage-shared-longer-multiple, -none
@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "max-age=-1"},
        {"Cache-Control": "max-age='3600'"},
        {"Cache-Control": "max-age=3600, s-maxage=-1"},
        {},  # no freshness, no validator: not reused (the old edge kept it 60 s)
        {"Expires": "0"},  # an invalid Expires means already expired
    ],
)
async def test_invalid_or_missing_freshness_is_stale(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], headers: dict[str, str]
) -> None:
    fake, _ = upstream
    fake.put("/doc", PAGE, headers={**TEXT, **headers})
    await edge.get("/doc")
    assert (await edge.get("/doc")).headers["X-Cache"] != "HIT"
    assert fake.hits["/doc"] == 2


async def test_heuristic_freshness_follows_last_modified_and_zero_turns_it_off(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    a_day_ago = formatdate(clock.now - 86400, usegmt=True)
    fake.put(
        "/old",
        PAGE,
        headers={**TEXT, "Last-Modified": a_day_ago, "Date": formatdate(clock.now, usegmt=True)},
    )
    edge = await make_edge()
    await edge.get("/old")
    assert (await edge.get("/old")).headers["X-Cache"] == "HIT"  # 10 % of a day: 2.4 hours
    off = await make_edge(heuristic_fraction=0, cache_dir=None, port=0)
    await off.get("/old")
    assert (await off.get("/old")).headers["X-Cache"] != "HIT"


# 4. expires, expires-parse, status-200-stale
async def test_expires_gives_the_lifetime_when_there_is_no_max_age(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    date = formatdate(clock.now, usegmt=True)
    fresh = {**TEXT, "Date": date, "Expires": formatdate(clock.now + 100, usegmt=True)}
    fake.put("/expires", PAGE, headers=fresh)
    await edge.get("/expires")
    hit = await edge.get("/expires")
    assert (hit.headers["X-Cache"], hit.headers["Expires"]) == ("HIT", fresh["Expires"])
    clock.advance(101)
    assert (await edge.get("/expires")).headers["X-Cache"] != "HIT"
    assert fake.hits["/expires"] == 2


# 5. headers-store-*, 304-lm-use-stored-Test-Header, 304-etag-update-response-*
async def test_the_origins_headers_are_stored_returned_and_updated_by_a_304(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    headers = {
        **TEXT,
        "Cache-Control": "max-age=10",
        "ETag": '"v1"',
        "Content-Location": "/page.html",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'",
        "X-Custom": "one",
        "Connection": "X-Hop",
        "X-Hop": "hop-by-hop",
    }
    fake.put("/page", PAGE, headers=headers)
    await edge.get("/page")
    hit = await edge.get("/page")
    assert hit.headers["X-Cache"] == "HIT"
    for name in ("Content-Location", "X-Frame-Options", "Content-Security-Policy", "X-Custom"):
        assert hit.headers[name] == headers[name]
    assert hit.headers["Cache-Control"] == "max-age=10"  # the origin's own, not rewritten
    assert "X-Hop" not in hit.headers  # named in Connection: hop-by-hop (RFC 9110 7.6.1)
    clock.advance(11)
    fake.put("/page", PAGE, headers={**headers, "X-Custom": "two", "X-Added": "new"})
    revalidated = await edge.get("/page")
    assert revalidated.headers["X-Cache"] == "REVALIDATED"
    assert fake.seen_headers[-1]["If-None-Match"] == '"v1"'
    after = await edge.get("/page")
    assert after.headers["X-Cache"] == "HIT"
    assert (after.headers["X-Custom"], after.headers["X-Added"]) == ("two", "new")
    assert fake.hits["/page"] == 2


# 6. other-authorization
async def test_an_answer_to_authorization_is_not_reused_unless_the_origin_says_shared(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/mine", b"secret", headers={**TEXT, "Cache-Control": "max-age=600"})
    await edge.get("/mine", headers={"Authorization": "Bearer alice"})
    assert fake.seen_headers[-1]["Authorization"] == "Bearer alice"  # forwarded
    anonymous = await edge.get("/mine")
    assert anonymous.headers["X-Cache"] == "MISS"
    assert fake.hits["/mine"] == 2
    fake.put("/shared", PAGE, headers={**TEXT, "Cache-Control": "public, max-age=600"})
    await edge.get("/shared", headers={"Authorization": "Bearer alice"})
    assert (await edge.get("/shared")).headers["X-Cache"] == "HIT"


# 7. retry amplification
async def test_an_origin_answering_503_gets_one_request_per_client_get(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    edge = await make_edge(retries=2)
    fake.put("/busy", b"busy", status=503, headers=TEXT)
    for count in range(1, 6):
        assert (await edge.get("/busy")).status == 503
        assert fake.hits["/busy"] == count  # never retried: the origin answered


async def test_a_refused_connection_is_retried_once_on_the_next_upstream(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, live = upstream
    dead, _ = free_port_url()  # nothing listens there: connect refused
    edge = await make_edge(upstreams=[dead, live], retries=1)
    client = edge.cache.fetcher.upstream
    for n in range(32):  # rendezvous hashing puts about half the keys on the dead one first
        fake.put(f"/a{n}.ts", b"segment", headers={"Content-Type": "video/mp2t"})
        assert (await edge.get(f"/a{n}.ts")).status == 200
        assert fake.hits[f"/a{n}.ts"] == 1  # exactly one request reached the origin
        if client.retried:
            break
    assert (client.errors, client.retried) == (1, 1)  # refused once, retried once, elsewhere


def test_the_retry_budget_caps_retries_at_a_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.1, floor=3)
    for i in range(100):
        budget.sent(10.0 + i / 1000)
    allowed = sum(budget.allows(10.2) for _ in range(50))
    assert allowed == 10  # 10 % of the 100 requests of the last second
    assert budget.allows(11.5)  # a second later the window is empty again: the floor applies


# 8. invalidation: unsafe methods pass through and invalidate
async def test_a_post_is_passed_through_and_invalidates_the_stored_get(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    fake.put("/cart", b"empty", headers={**TEXT, "Cache-Control": "max-age=600"})
    await edge.get("/cart")
    assert (await edge.get("/cart")).headers["X-Cache"] == "HIT"
    posted = await edge.post("/cart", data=b"item=1", headers={"X-Client": "c1"})
    assert posted.status == 200
    assert fake.seen_headers[-1]["X-Client"] == "c1"
    assert fake.seen_headers[-1]["Content-Length"] == "6"
    assert fake.hits["/cart"] == 2
    after = await edge.get("/cart")
    assert after.headers["X-Cache"] == "MISS"  # RFC 9111 4.4
    assert fake.hits["/cart"] == 3
    await settle(edge)


async def test_refused_methods_get_405_at_the_edge(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    edge = await make_edge(refused_methods=["POST", "PUT"])
    refused = await edge.post("/cart", data=b"x")
    assert refused.status == 405
    assert "POST" not in refused.headers["Allow"] and "GET" in refused.headers["Allow"]
    assert fake.hits["/cart"] == 0


async def test_an_origin_503_on_a_live_playlist_past_its_window_carries_retry_after(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str], clock: FakeClock
) -> None:
    fake, _ = upstream
    live = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:4,\ns1.ts\n"
    fake.put("/live/a/index.m3u8", live, headers={"Content-Type": "application/vnd.apple.mpegurl"})
    await edge.get("/live/a/index.m3u8")
    await settle(edge)
    clock.advance(9)  # past two target durations
    fake.put("/live/a/index.m3u8", b"down", status=503, headers=TEXT)
    failed = await edge.get("/live/a/index.m3u8")
    assert (failed.status, failed.headers["Retry-After"]) == (503, "4")


async def test_a_coalesced_request_for_another_variant_gets_its_own(
    edge: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake, _ = upstream
    gate = asyncio.Event()
    vary = {**TEXT, "Cache-Control": "max-age=600", "Vary": "Accept-Language"}
    fake.put("/hello", b"hello, world", headers=vary, gate=gate)
    waiters = FillWaiters(edge)
    en = asyncio.create_task(edge.get("/hello", headers={"Accept-Language": "en"}))
    await fake.arrived("/hello")
    fr = asyncio.create_task(edge.get("/hello", headers={"Accept-Language": "fr"}))
    await waiters.until(lambda: waiters.joins["/hello"] >= 2)  # fr joined en's fill
    fake.put("/hello", b"bonjour", headers=vary)
    gate.set()
    assert await (await en).read() == b"hello, world"
    french = await fr
    assert (await french.read(), french.headers["X-Cache"]) == (b"bonjour", "MISS")
    assert fake.hits["/hello"] == 2
