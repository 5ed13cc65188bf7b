"""Freshness and staleness: pure decisions, unit-tested against the DESIGN table.

Origin `Cache-Control` wins where present (RFC 9111 section 5.2.2; `s-maxage` over `max-age`
for a shared cache, section 5.2.2.10). A live media playlist is capped whatever the origin says:
fresh for at most half a target duration, served stale for at most one more target duration
while it is refreshed, and for at most two target durations when the origin is failing. Past
that the edge fails, so players switch (a frozen live playlist is the worst thing a viewer sees).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.cache.keys import ObjectKind
from edge.hls import PlaylistKind

Verdict = Literal["fresh", "stale", "expired"]
# what to do with a stored copy: serve it; serve it and refresh it behind the viewer (a live
# playlist about to expire); serve it stale and refresh it; or fetch before answering
Decision = Literal["serve", "serve_and_refresh", "serve_stale", "miss"]

MAX_DELTA_SECONDS = 2**31
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class CacheControl:
    max_age: float | None = None
    s_maxage: float | None = None
    stale_while_revalidate: float | None = None
    stale_if_error: float | None = None
    no_store: bool = False
    no_cache: bool = False
    private: bool = False

    @property
    def lifetime(self) -> float | None:
        return self.s_maxage if self.s_maxage is not None else self.max_age


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long an object is fresh, and how long after that it may still be served."""

    ttl: float
    swr: float = 0.0
    sie: float = 0.0
    store: bool = True


@dataclass(frozen=True, slots=True)
class FreshnessDefaults:
    master_ttl: float = 10.0
    vod_playlist_ttl: float = 6 * HOUR
    segment_ttl: float = DAY
    other_ttl: float = 60.0
    negative_ttl: float = 1.0
    long_stale: float = DAY


NO_STORE = Freshness(ttl=0.0, store=False)


def delta_seconds(value: str) -> float | None:
    """RFC 9111 1.2.2: 1*DIGIT, and anything larger than 2^31 means 2^31. No inf, no 1e400."""
    digits = value.strip().strip('"')
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits.lstrip("0")) > 10:  # larger than 2^31, and int() refuses > 4,300 digits
        return float(MAX_DELTA_SECONDS)
    return float(min(int(digits), MAX_DELTA_SECONDS))


def parse_cache_control(header: str) -> CacheControl:
    """Parse the directives we act on; unknown or malformed ones are ignored (RFC 9111 5.2)."""
    values: dict[str, float | None] = {}
    flags: set[str] = set()
    for item in header.split(","):
        name, _, arg = item.strip().partition("=")
        name = name.strip().lower()
        if arg:
            values[name] = delta_seconds(arg)
        elif name:
            flags.add(name)
    return CacheControl(
        max_age=values.get("max-age"),
        s_maxage=values.get("s-maxage"),
        stale_while_revalidate=values.get("stale-while-revalidate"),
        stale_if_error=values.get("stale-if-error"),
        no_store="no-store" in flags,
        no_cache="no-cache" in flags,
        private="private" in flags or "private" in values,
    )


def _pick(origin: float | None, default: float) -> float:
    return default if origin is None else origin


def freshness(
    kind: ObjectKind,
    status: int,
    cc: CacheControl,
    *,
    playlist: PlaylistKind | None = None,
    target_duration: float | None = None,
    sets_cookie: bool = False,
    defaults: FreshnessDefaults = FreshnessDefaults(),
) -> Freshness:
    """The DESIGN freshness table as a function."""
    if cc.no_store or cc.private or sets_cookie:
        return NO_STORE
    if status in (404, 410):
        # a live segment may appear a moment later: never remember its absence for long
        return Freshness(ttl=min(_pick(cc.lifetime, defaults.negative_ttl), defaults.negative_ttl))
    if status != 200:
        return NO_STORE
    lifetime = 0.0 if cc.no_cache else cc.lifetime
    if kind == "playlist" and playlist == "live":
        td = target_duration or 2.0
        ttl = min(_pick(lifetime, td / 2), td / 2)
        # the windows follow freshness (RFC 5861), capped so that the age served stays
        # under 1.5 TD while refreshing and under 2 TD while the origin fails
        return Freshness(
            ttl=ttl,
            swr=min(_pick(cc.stale_while_revalidate, td), td),
            sie=min(_pick(cc.stale_if_error, 2 * td), 2 * td - ttl),
        )
    if kind == "playlist":
        ttl = defaults.master_ttl if playlist == "master" else defaults.vod_playlist_ttl
        return _with_origin(lifetime, cc, ttl, defaults.long_stale, defaults.long_stale)
    if kind in ("segment", "init", "key"):
        return _with_origin(lifetime, cc, defaults.segment_ttl, 0.0, defaults.long_stale)
    return _with_origin(lifetime, cc, defaults.other_ttl, 0.0, defaults.long_stale)


def _with_origin(
    lifetime: float | None, cc: CacheControl, ttl: float, swr: float, sie: float
) -> Freshness:
    return Freshness(
        ttl=_pick(lifetime, ttl),
        swr=_pick(cc.stale_while_revalidate, swr),
        sie=_pick(cc.stale_if_error, sie),
    )


def judge(age: float, fresh: Freshness) -> Verdict:
    """fresh: serve; stale: serve and refresh behind; expired: fetch before answering."""
    if age < fresh.ttl:
        return "fresh"
    if age < fresh.ttl + fresh.swr:
        return "stale"
    return "expired"


def decide(age: float, fresh: Freshness, *, is_live: bool, refresh_ahead_s: float) -> Decision:
    verdict = judge(age, fresh)
    if verdict == "expired":
        return "miss"
    if verdict == "stale":
        return "serve_stale"
    if is_live and should_refresh_ahead(age, fresh, refresh_ahead_s):
        return "serve_and_refresh"
    return "serve"


def may_serve_on_error(age: float, fresh: Freshness) -> bool:
    """stale-if-error (RFC 5861 section 4): an expired copy beats an error, within its window."""
    return age < fresh.ttl + fresh.sie


def should_refresh_ahead(age: float, fresh: Freshness, margin: float) -> bool:
    """Refresh a playlist that has viewers before it expires, so they keep hitting."""
    return fresh.ttl > 0 and age >= fresh.ttl - margin
