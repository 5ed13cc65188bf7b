"""Per-client request rate: a token bucket per remote address (pure; the clock is injected).

A client may send `burst` requests at once and `rate` per second after that; the request
over the limit is told how long to wait (429 with Retry-After, RFC 6585 section 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

MAX_TRACKED_CLIENTS = 100_000


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # the bucket's size
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 if there was one, else the seconds until there will be."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class ClientRates:
    """A bucket per client. A forgotten client is one with a full bucket, so the least
    recently seen are dropped first when too many are tracked (memory stays bounded)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: LRUCache[str, TokenBucket] = LRUCache(maxsize=max_clients)

    def take(self, client: str) -> float:
        """0.0 if `client` may go on, else the seconds it should wait."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, self.burst, now)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait_s: float) -> str:
    """Retry-After in whole seconds (RFC 9110 10.2.3), never 0 for a refused request."""
    return str(max(1, math.ceil(wait_s)))
