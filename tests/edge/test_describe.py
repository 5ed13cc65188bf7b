"""What a response says about its object (edge/cache/describe.py): metadata and freshness from
the head, completed from the body, refreshed by a 304. Pure functions, so plain tables."""

from __future__ import annotations

import pytest

from edge.cache.describe import completed_meta, head_meta, is_frozen_live, revalidated_meta
from edge.cache.freshness import DAY, FreshnessDefaults
from edge.cache.keys import cache_key

NOW = 1_700_000_000.0
DEFAULTS = FreshnessDefaults()
LIVE = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg.ts\n"


def test_a_segment_head_says_all_a_streamed_answer_needs() -> None:
    headers = {
        "Content-Type": "video/mp2t",
        "ETag": '"abc"',
        "Last-Modified": "Tue, 14 Nov 2023 22:13:20 GMT",
        "Age": "3",
        "Content-Language": "en",
        "X-Custom": "kept",
        "Connection": "close, X-Hop",
        "X-Hop": "dropped",
        "Keep-Alive": "timeout=5",
    }
    meta = head_meta(cache_key("/v/1.ts"), 200, headers, 2048, NOW, DEFAULTS)
    assert (meta.kind, meta.length, meta.etag, meta.initial_age) == ("segment", 2048, '"abc"', 3)
    assert meta.last_modified_ts == 1_700_000_000.0
    assert meta.freshness.ttl == DAY  # no Cache-Control: the segment default
    # the origin's end-to-end fields, not hop-by-hop ones nor those Connection names (RFC 9110
    # 7.6.1); the fields the edge writes itself live in the meta's own fields
    assert meta.extra == {"Content-Language": "en", "X-Custom": "kept"}


@pytest.mark.parametrize(
    ("headers", "etag", "last_modified", "age"),
    [
        ({}, "", "Tue, 14 Nov 2023 22:13:20 GMT", 0.0),  # our store time stands in
        ({"Age": "-1", "Last-Modified": "garbage"}, "", "garbage", 0.0),
        ({"Age": "99999999999999"}, "", "Tue, 14 Nov 2023 22:13:20 GMT", 2.0**31),
    ],
)
def test_head_validators_and_age_when_missing_or_invalid(
    headers: dict[str, str], etag: str, last_modified: str, age: float
) -> None:
    meta = head_meta(cache_key("/v/1.ts"), 200, headers, None, NOW, DEFAULTS)
    assert (meta.etag, meta.last_modified, meta.initial_age, meta.length) == (
        etag,
        last_modified,
        age,
        0,
    )
    assert meta.last_modified_ts == NOW  # no valid Last-Modified: the time it was stored


def test_completed_segment_keeps_the_head_freshness_and_gets_an_etag_of_its_body() -> None:
    head = head_meta(cache_key("/v/1.ts"), 200, {"Cache-Control": "max-age=60"}, 5, NOW, DEFAULTS)
    done = completed_meta(head, {"Cache-Control": "max-age=60"}, b"", 5, "d1g", DEFAULTS)
    assert done.freshness is head.freshness and done.freshness.ttl == 60
    assert (done.etag, done.length) == ('"d1g"', 5)


def test_completed_live_playlist_is_capped_by_its_target_duration() -> None:
    headers = {"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "max-age=60"}
    head = head_meta(cache_key("/l/index.m3u8"), 200, headers, None, NOW, DEFAULTS)
    assert head.freshness.ttl == 60  # the head alone cannot know it is live
    done = completed_meta(head, headers, LIVE, len(LIVE), "x", DEFAULTS)
    assert (done.playlist, done.target_duration, done.freshness.ttl) == ("live", 4.0, 2.0)


def test_a_304_refreshes_from_now_with_its_own_age_and_cache_control() -> None:
    headers = {"Content-Type": "application/vnd.apple.mpegurl"}
    head = head_meta(cache_key("/l/index.m3u8"), 200, headers, None, NOW - 100, DEFAULTS)
    stored = completed_meta(head, headers, LIVE, len(LIVE), "x", DEFAULTS)
    fresh = revalidated_meta(stored, {"Age": "1", "Cache-Control": "max-age=1"}, NOW, DEFAULTS)
    assert (fresh.stored_at, fresh.initial_age, fresh.freshness.ttl) == (NOW, 1.0, 1.0)
    assert not is_frozen_live(fresh)
    frozen = revalidated_meta(stored, {"Age": "30"}, NOW, DEFAULTS)
    assert is_frozen_live(frozen)  # older than ttl + swr (2 + 4 s) when it arrives
