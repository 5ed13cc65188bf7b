"""How a node's workers share one cache: the protocol through which the cache asks before it
fetches (DESIGN, "Several workers on one machine"). edge/node/ implements it; a lone edge has
none and always fetches itself. The cache knows this protocol, never the node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.cache.flight import Fill
from edge.cache.tiers import Stored


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a fill this process was about to fetch."""

    fetch: bool  # False: another process's fetch or copy answered it
    stale: Stored | None  # the copy to revalidate when fetching
    followed: bool = False  # it followed another process's fetch (counted as coalesced)


class FillCoordinator(Protocol):
    async def before_fetch(self, fill: Fill, stale: Stored | None) -> Verdict:
        """Ask who fetches `fill` (revalidating `stale`); a fill this process fetches may be
        given an observer that tells the others of its progress."""
        ...

    def stored(self, stored: Stored) -> None:
        """This process stored or revalidated an object."""
        ...
