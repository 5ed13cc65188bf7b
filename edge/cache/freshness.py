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
    """The response directives a shared cache acts on (RFC 9111 5.2.2). A present but invalid
    `max-age` or `s-maxage` is 0: the response is stale (RFC 9111 4.2.1, 5.2.2.1)."""

    max_age: float | None = None
    s_maxage: float | None = None
    stale_while_revalidate: float | None = None
    stale_if_error: float | None = None
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False

    @property
    def lifetime(self) -> float | None:
        return self.s_maxage if self.s_maxage is not None else self.max_age

    @property
    def forbids_stale(self) -> bool:
        """RFC 9111 5.2.2.2, 5.2.2.4, 5.2.2.8, 5.2.2.10: a shared cache must not serve it
        stale (not even when the origin fails) once these say so."""
        return (
            self.must_revalidate
            or self.proxy_revalidate
            or self.no_cache
            or self.s_maxage is not None
        )


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long an object is fresh, and how long after that it may still be served."""

    ttl: float
    swr: float = 0.0
    sie: float = 0.0
    store: bool = True


# RFC 9110 15.1: statuses "heuristically cacheable" (storable without explicit freshness)
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
# statuses never stored: partial content (ranges are answered from whole objects), 304
NEVER_STORED = frozenset({206, 304})


@dataclass(frozen=True, slots=True)
class FreshnessDefaults:
    """RFC 9111's knobs and the HLS policy's named overrides (config/edge.toml [policy]).

    The HLS rows apply to playlists, segments, init segments and keys only (classified by
    name or content type); every other object is cached by RFC 9111 alone."""

    master_ttl: float = 10.0  # hls_master_ttl: a master playlist the origin gives no lifetime
    vod_playlist_ttl: float = 6 * HOUR  # hls_vod_playlist_ttl
    segment_ttl: float = DAY  # hls_segment_ttl: segments are immutable by name
    other_ttl: float = 60.0  # unused since issue 17: kept for old callers of the type
    negative_ttl: float = 1.0  # hls_negative_ttl: the most an HLS 404/410 is remembered
    long_stale: float = DAY  # stale-if-error when the origin allows it and says nothing
    hls_error_statuses: frozenset[int] = frozenset({404, 410})  # the HLS errors kept
    live_fresh_fraction: float = 0.5  # hls live playlist: fresh for this share of its TD,
    live_stale_tds: float = 1.0  # served stale while refreshed for this many TDs more,
    live_error_tds: float = 2.0  # and while the origin fails until this many TDs old
    heuristic_fraction: float = 0.1  # RFC 9111 4.2.2: of the time since Last-Modified; 0 = off
    heuristic_max: float = DAY  # the longest heuristic lifetime


NO_STORE = Freshness(ttl=0.0, store=False)


def delta_seconds(value: str) -> float | None:
    """RFC 9111 1.2.2: 1*DIGIT, and anything larger than 2^31 means 2^31. No inf, no 1e400."""
    digits = value.strip().strip('"')
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits.lstrip("0")) > 10:  # larger than 2^31, and int() refuses > 4,300 digits
        return float(MAX_DELTA_SECONDS)
    return float(min(int(digits), MAX_DELTA_SECONDS))


def directives(header: str) -> list[tuple[str, str | None]]:
    """RFC 9111 5.2: `token [ "=" ( token / quoted-string ) ]`, comma-separated. A comma inside
    a quoted string does not split; the quotes are removed from the value."""
    found: list[tuple[str, str | None]] = []
    i, n = 0, len(header)
    while i < n:
        end = i
        while end < n and header[end] not in ",=":
            end += 1
        name = header[i:end].strip().lower()
        value: str | None = None
        i = end
        if i < n and header[i] == "=":
            i += 1
            if i < n and header[i] == '"':
                j = i + 1
                chars = []
                while j < n and header[j] != '"':
                    if header[j] == "\\" and j + 1 < n:
                        j += 1
                    chars.append(header[j])
                    j += 1
                value = "".join(chars)
                i = j + 1
                while i < n and header[i] != ",":  # anything after the quote is junk
                    i += 1
            else:
                end = header.find(",", i)
                end = n if end < 0 else end
                value = header[i:end].rstrip()  # "max-age= 5" keeps its space: invalid
                i = end
        if name:
            found.append((name, value))
        i += 1  # the comma
    return found


def _seconds(value: str | None) -> float:
    """A delta-seconds argument; an invalid one is 0 (stale, RFC 9111 4.2.1)."""
    parsed = delta_seconds(value) if value is not None and value[:1] != " " else None
    return 0.0 if parsed is None else parsed


def parse_cache_control(header: str) -> CacheControl:
    """The directives we act on; unknown ones are ignored, a repeated one counts once (its
    first occurrence, RFC 9111 4.2.1)."""
    seen: dict[str, str | None] = {}
    for name, value in directives(header):
        seen.setdefault(name, value)

    def number(name: str) -> float | None:
        return _seconds(seen[name]) if name in seen else None

    return CacheControl(
        max_age=number("max-age"),
        s_maxage=number("s-maxage"),
        stale_while_revalidate=number("stale-while-revalidate"),
        stale_if_error=number("stale-if-error"),
        no_store="no-store" in seen,
        no_cache="no-cache" in seen and seen["no-cache"] is None,  # no-cache="field": ignored
        private="private" in seen and seen["private"] is None,  # private="field": ignored
        public="public" in seen,
        must_revalidate="must-revalidate" in seen,
        proxy_revalidate="proxy-revalidate" in seen,
    )


def _pick(origin: float | None, default: float) -> float:
    return default if origin is None else origin


def may_store(cc: CacheControl, *, sets_cookie: bool = False, authorized: bool = False) -> bool:
    """RFC 9111 3 and 3.5 for a shared cache; a Set-Cookie response is one viewer's."""
    if cc.no_store or cc.private or sets_cookie:
        return False
    # a response to a request with Authorization only when the origin says it is shared
    return not authorized or cc.public or cc.s_maxage is not None or cc.must_revalidate


def freshness(
    kind: ObjectKind,
    status: int,
    cc: CacheControl,
    *,
    playlist: PlaylistKind | None = None,
    target_duration: float | None = None,
    sets_cookie: bool = False,
    defaults: FreshnessDefaults = FreshnessDefaults(),
    expires: float | None = None,
    since_modified: float | None = None,
    authorized: bool = False,
) -> Freshness:
    """RFC 9111 for every response, the DESIGN freshness table's HLS overrides on top.

    `expires` is Expires minus Date (0 for an invalid Expires); `since_modified` is Date minus
    Last-Modified, the base of a heuristic lifetime."""
    if not may_store(cc, sets_cookie=sets_cookie, authorized=authorized):
        return NO_STORE
    explicit = cc.lifetime if cc.lifetime is not None else expires
    if cc.no_cache:
        explicit = 0.0  # stored, but revalidated before every use (RFC 9111 5.2.2.4)
    if kind == "other":
        return _rfc(status, cc, explicit, since_modified, defaults)
    fresh = _hls(kind, status, cc, explicit, playlist, target_duration, defaults)
    if cc.forbids_stale and fresh.store:
        return Freshness(ttl=fresh.ttl)  # the origin wins over the HLS stale windows
    return fresh


def _rfc(
    status: int,
    cc: CacheControl,
    explicit: float | None,
    since_modified: float | None,
    defaults: FreshnessDefaults,
) -> Freshness:
    if status in NEVER_STORED or status < 200:
        return NO_STORE
    if explicit is None and not cc.public and status not in HEURISTIC_STATUSES:
        return NO_STORE  # RFC 9111 3: nothing makes it storable
    if explicit is None:
        base = since_modified if since_modified is not None and since_modified > 0 else 0.0
        explicit = min(base * defaults.heuristic_fraction, defaults.heuristic_max)
    if cc.forbids_stale:
        return Freshness(ttl=explicit)
    return Freshness(
        ttl=explicit,
        swr=_pick(cc.stale_while_revalidate, 0.0),
        sie=_pick(cc.stale_if_error, defaults.long_stale),
    )


def _hls(
    kind: ObjectKind,
    status: int,
    cc: CacheControl,
    lifetime: float | None,
    playlist: PlaylistKind | None,
    target_duration: float | None,
    defaults: FreshnessDefaults,
) -> Freshness:
    """The DESIGN freshness table as a function."""
    if status in defaults.hls_error_statuses:
        # a live segment may appear a moment later: never remember its absence for long
        return Freshness(ttl=min(_pick(lifetime, defaults.negative_ttl), defaults.negative_ttl))
    if status != 200:
        return NO_STORE
    if kind == "playlist" and playlist == "live":
        td = target_duration or 2.0
        cap = td * defaults.live_fresh_fraction
        ttl = min(_pick(lifetime, cap), cap)
        # the windows follow freshness (RFC 5861), capped so that the age served stays
        # under 1.5 TD while refreshing and under 2 TD while the origin fails (defaults)
        stale, error = td * defaults.live_stale_tds, td * defaults.live_error_tds
        return Freshness(
            ttl=ttl,
            swr=min(_pick(cc.stale_while_revalidate, stale), stale),
            sie=max(0.0, min(_pick(cc.stale_if_error, error), error - ttl)),
        )
    if kind == "playlist":
        ttl = defaults.master_ttl if playlist == "master" else defaults.vod_playlist_ttl
        return _with_origin(lifetime, cc, ttl, defaults.long_stale, defaults.long_stale)
    return _with_origin(lifetime, cc, defaults.segment_ttl, 0.0, defaults.long_stale)


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
