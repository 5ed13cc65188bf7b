"""Upstream parents: one keep-alive client session, rendezvous choice, retries, breakers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from edge.cache.describe import HOP_BY_HOP
from edge.cache.keys import CacheKey
from edge.errors import UpstreamError

log = logging.getLogger("edge.upstream")

RETRY_BACKOFF_S = (0.05, 0.2, 0.5)
CONTENT_ENCODING_IDENTITY = {"Accept-Encoding": "identity"}
# Request fields never forwarded on a fill: hop-by-hop (RFC 9110 7.6.1), framing, the ones the
# edge answers itself (conditionals and ranges are answered from the whole stored object), and
# the viewer's own telemetry (CMCD, CTA-5004), which never goes upstream.
NOT_FORWARDED = HOP_BY_HOP | frozenset(
    {
        "host",
        "content-length",
        "expect",
        "via",
        "accept-encoding",
        "range",
        "if-range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
    }
)
# ...and on a request passed through (unsafe methods), the client's conditionals go too
NOT_PASSED = NOT_FORWARDED - {
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "accept-encoding",
}
RETRY_BUDGET_WINDOW_S = 1.0


def forwardable(asked: Mapping[str, str], drop: frozenset[str] = NOT_FORWARDED) -> dict[str, str]:
    """The request's end-to-end fields to send upstream (names lower-case, as parsed)."""
    listed = asked.get("connection")
    also = {t.strip().lower() for t in listed.split(",")} if listed else set()
    return {
        name: value
        for name, value in asked.items()
        if name not in drop and name not in also and not name.startswith("cmcd-")
    }


@dataclass(slots=True)
class RetryBudget:
    """Retries may add at most `ratio` of the requests of the last second (at least `floor`
    a second), as Envoy's and gRPC's retry budgets: an outage is never multiplied."""

    ratio: float = 0.1
    floor: int = 3
    requests: deque[float] = field(default_factory=deque)
    retries: deque[float] = field(default_factory=deque)

    def sent(self, now: float) -> None:
        self.requests.append(now)

    def allows(self, now: float) -> bool:
        for times in (self.requests, self.retries):
            while times and times[0] <= now - RETRY_BUDGET_WINDOW_S:
                times.popleft()
        if len(self.retries) >= max(self.floor, self.ratio * len(self.requests)):
            return False
        self.retries.append(now)
        return True


@dataclass(slots=True)
class Breaker:
    """Opens after `threshold` consecutive failures; lets one try through after `cool_off` s."""

    threshold: int = 5
    cool_off: float = 5.0
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.cool_off

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now


def rendezvous_order(key: str, parents: list[str]) -> list[str]:
    """Highest-random-weight order: each key prefers one parent, and moves only if it fails."""

    def weight(parent: str) -> bytes:
        return hashlib.blake2b(f"{parent}|{key}".encode(), digest_size=8).digest()

    return sorted(parents, key=weight, reverse=True)


class Upstream:
    def __init__(
        self,
        parents: list[str],
        *,
        via: str,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        clock: Callable[[], float],
        ca_file: str = "",
        retry_budget: float = 0.1,
    ) -> None:
        self.parents = [p.rstrip("/") for p in parents]
        self.ca_file = ca_file  # https parents are verified against it ("" = the system store)
        self.via = via
        self.retries = retries
        self._clock = clock
        self._breakers = {p: Breaker() for p in self.parents}
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.errors = 0
        self.retried = 0
        self.budget = RetryBudget(retry_budget)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=256, limit_per_host=128, keepalive_timeout=30, ssl=self._tls()
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=False
        )

    def _tls(self) -> ssl.SSLContext | bool:
        """For https parents: the certificate verified (chain and host name; SNI is sent for
        a name), TLS 1.2 or newer; kept-alive connections are reused like plain ones."""
        if not any(parent.startswith("https:") for parent in self.parents):
            return True  # aiohttp's default
        context = ssl.create_default_context(cafile=self.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _candidates(self, key: CacheKey) -> list[str]:
        ordered = rendezvous_order(str(key), self.parents)
        now = self._clock()
        healthy = [p for p in ordered if self._breakers[p].allows(now)]
        return healthy or ordered

    @asynccontextmanager
    async def get(
        self,
        key: CacheKey,
        headers: dict[str, str],
        via: str | None = None,
        forwarded: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET the key from the first parent that answers. Only a request that never reached
        a parent (refused, or reset before any byte) is tried again, on the next parent, within
        the retry budget; an answer, 5xx included, is never asked again (DESIGN, Upstreams).
        `read_timeout`: a longer wait for bytes than the configured one (an LL-HLS request the
        parent holds on purpose); never shorter."""
        assert self._session is not None, "Upstream.start() was not awaited"
        sent = {
            **(forwarded or {}),
            **CONTENT_ENCODING_IDENTITY,
            "Via": self._via(via),
            **headers,
        }
        timeout = self._timeout
        if read_timeout is not None and read_timeout > (timeout.sock_read or 0.0):
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=timeout.connect,
                sock_connect=timeout.sock_connect,
                sock_read=read_timeout,
            )
        candidates = self._candidates(key)
        last_error = UpstreamError("no upstream configured")
        for attempt in range(self.retries + 1):
            parent = candidates[attempt % len(candidates)]
            breaker = self._breakers[parent]
            self.requests += 1
            self.budget.sent(self._clock())
            try:
                response = await self._session.get(
                    parent + key.upstream_target,
                    headers=sent,
                    allow_redirects=False,
                    timeout=timeout,
                )
            except aiohttp.ConnectionTimeoutError:
                last_error = UpstreamError(f"upstream {parent} connect timed out", timeout=True)
                retry = True
            except TimeoutError:
                raise UpstreamError(f"upstream {parent} timed out", timeout=True) from None
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
                # refused, or a kept-alive connection closed before any byte of the answer
                last_error = UpstreamError(f"upstream {parent} unreachable: {type(exc).__name__}")
                retry = True
            except (aiohttp.ClientError, OSError) as exc:
                last_error = UpstreamError(f"upstream {parent} failed: {type(exc).__name__}")
                retry = False
            else:
                # a 508 is about the request (a loop), not the parent's health
                healthy = response.status < 500 or response.status == 508
                breaker.succeeded() if healthy else breaker.failed(self._clock())
                try:
                    yield response
                finally:
                    response.release()
                return
            self.errors += 1
            breaker.failed(self._clock())
            log.warning(
                "upstream attempt failed", extra={"key": str(key), "error": last_error.reason}
            )
            if not retry or attempt == self.retries or not self.budget.allows(self._clock()):
                break
            self.retried += 1
            if len(candidates) == 1:  # the same parent again: give it a moment
                await asyncio.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)])
        raise last_error

    def _via(self, via: str | None) -> str:
        hop = f"1.1 {self.via}"
        return f"{via}, {hop}" if via else hop

    async def send(
        self, method: str, key: CacheKey, target: str, asked: Mapping[str, str], body: bytes
    ) -> aiohttp.ClientResponse:
        """Pass a request through to the key's first healthy parent, never retried (an unsafe
        method may have had its effect); the caller releases the response."""
        assert self._session is not None, "Upstream.start() was not awaited"
        parent = self._candidates(key)[0]
        sent = {**forwardable(asked, NOT_PASSED), "Via": self._via(asked.get("via"))}
        self.requests += 1
        try:
            return await self._session.request(
                method, parent + target, headers=sent, data=body or None, allow_redirects=False
            )
        except TimeoutError:
            raise UpstreamError(f"upstream {parent} timed out", timeout=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            self.errors += 1
            raise UpstreamError(f"upstream {parent} failed: {type(exc).__name__}") from None
