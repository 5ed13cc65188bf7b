"""How a miss ends, once its fill has: one pure function, table-tested (tests/edge/test_miss.py).

The inputs are everything the answer depends on: the fill's outcome, whether the object it
stored (or confirmed) can still be read, the upstream status, and the stale copy the request
held, if any: its age, its freshness (which says how long it may stand in for an error) and
whether it is a live playlist (DESIGN freshness table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.cache.flight import Outcome
from edge.cache.freshness import Freshness, may_serve_on_error

# copy: serve what the fill stored or a 304 confirmed; refetch: that copy is gone, fetch it
# whole; passed: the upstream's answer as it came (a 4xx, an uncacheable 200, a 5xx with no
# stale copy to stand in); stale: the stale copy instead of an error (RFC 5861 4);
# unavailable: a live playlist past its stale cap (503 + Retry-After, so players switch);
# failed: the upstream gave no answer (502/504 with the reason)
MissEnd = Literal["copy", "refetch", "passed", "stale", "unavailable", "failed"]


@dataclass(frozen=True, slots=True)
class StaleCopy:
    age: float
    freshness: Freshness
    is_live: bool


def miss_end(
    outcome: Outcome, has_copy: bool, status: int | None, stale: StaleCopy | None
) -> MissEnd:
    """`status` is the upstream's, None when it said nothing (or the fill failed before)."""
    if outcome in ("stored", "not_modified") and has_copy:
        return "copy"
    if outcome == "not_modified":
        return "refetch"
    answered = outcome != "failed" and status is not None
    if answered and status is not None and status < 500:
        return "passed"
    if stale is not None and may_serve_on_error(stale.age, stale.freshness):
        return "stale"
    if answered:
        return "passed"  # the origin's 5xx, passed on uncached
    if stale is not None and stale.is_live:
        return "unavailable"
    return "failed"
