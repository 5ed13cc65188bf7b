"""The end of a miss as a table: (fill outcome, copy readable, upstream status, stale copy) ->
what the handler answers (edge/serve/miss.py). The handler's tests (test_answers.py,
test_freshness.py) drive the same ends through real fills."""

from __future__ import annotations

import pytest

from edge.cache.flight import Outcome
from edge.cache.freshness import Freshness
from edge.serve.miss import MissEnd, StaleCopy, miss_end

# stale-if-error for 60 s past a ttl of 10 s; a live playlist with a 4 s target duration
SEGMENT = Freshness(ttl=10.0, sie=60.0)
LIVE = Freshness(ttl=2.0, swr=4.0, sie=6.0)
WITHIN = StaleCopy(age=30.0, freshness=SEGMENT, is_live=False)
PAST = StaleCopy(age=100.0, freshness=SEGMENT, is_live=False)
LIVE_WITHIN = StaleCopy(age=5.0, freshness=LIVE, is_live=True)
LIVE_PAST = StaleCopy(age=9.0, freshness=LIVE, is_live=True)


@pytest.mark.parametrize(
    ("outcome", "has_copy", "status", "stale", "end"),
    [
        # the fill stored the object, or a 304 confirmed the copy: serve that
        ("stored", True, 200, None, "copy"),
        ("not_modified", True, 200, PAST, "copy"),
        # the copy a 304 confirmed was evicted meanwhile: fetch it whole
        ("not_modified", False, 200, PAST, "refetch"),
        # stored, but gone before it could be read; not storable; a 404: pass it on
        ("stored", False, 200, None, "passed"),
        ("passed", False, 200, WITHIN, "passed"),
        ("passed", False, 404, WITHIN, "passed"),
        # an origin 5xx: a stale copy within stale-if-error stands in, else the 5xx goes on
        ("passed", False, 503, WITHIN, "stale"),
        ("passed", False, 503, PAST, "passed"),
        ("passed", False, 500, None, "passed"),
        ("passed", False, 503, LIVE_PAST, "passed"),
        # no answer at all (refused, timed out, broken body)
        ("failed", False, None, WITHIN, "stale"),
        ("failed", False, 200, WITHIN, "stale"),  # a body that broke after its head
        ("failed", False, None, PAST, "failed"),
        ("failed", False, None, None, "failed"),
        ("failed", False, None, LIVE_WITHIN, "stale"),
        # a live playlist past its stale cap: 503 + Retry-After, never a frozen playlist
        ("failed", False, None, LIVE_PAST, "unavailable"),
    ],
)
def test_miss_end(
    outcome: Outcome, has_copy: bool, status: int | None, stale: StaleCopy | None, end: MissEnd
) -> None:
    assert miss_end(outcome, has_copy, status, stale) == end
