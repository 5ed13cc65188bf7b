"""Upstream parents: one keep-alive client session, rendezvous choice, retries, breakers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from edge.cache.keys import CacheKey
from edge.errors import UpstreamError

log = logging.getLogger("edge.upstream")

RETRY_BACKOFF_S = (0.05, 0.2, 0.5)
RETRY_STATUSES = frozenset({502, 503, 504})
# Request headers never forwarded: hop-by-hop (RFC 9110 7.6.1) and ones the edge answers itself.
CONTENT_ENCODING_IDENTITY = {"Accept-Encoding": "identity"}


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
        self, key: CacheKey, headers: dict[str, str], via: str | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET the key from the first parent that answers; retry idempotent failures."""
        assert self._session is not None, "Upstream.start() was not awaited"
        hop = f"1.1 {self.via}"
        sent = {**CONTENT_ENCODING_IDENTITY, "Via": f"{via}, {hop}" if via else hop, **headers}
        candidates = self._candidates(key)
        last_error = UpstreamError("no upstream configured")
        for attempt in range(self.retries + 1):
            parent = candidates[attempt % len(candidates)]
            breaker = self._breakers[parent]
            self.requests += 1
            try:
                response = await self._session.get(parent + key.upstream_target, headers=sent)
            except TimeoutError:
                last_error = UpstreamError(f"upstream {parent} timed out", timeout=True)
            except (aiohttp.ClientError, OSError) as exc:
                last_error = UpstreamError(f"upstream {parent} unreachable: {type(exc).__name__}")
            else:
                if response.status not in RETRY_STATUSES or attempt == self.retries:
                    # a 508 is about the request (a loop), not the parent's health
                    healthy = response.status < 500 or response.status == 508
                    breaker.succeeded() if healthy else breaker.failed(self._clock())
                    try:
                        yield response
                    finally:
                        response.release()
                    return
                response.release()
                last_error = UpstreamError(f"upstream {parent} answered {response.status}")
            self.errors += 1
            breaker.failed(self._clock())
            log.warning(
                "upstream attempt failed", extra={"key": str(key), "error": last_error.reason}
            )
            if attempt < self.retries:
                await asyncio.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)])
        raise last_error
