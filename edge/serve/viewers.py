"""Viewers and QoE at the edge (issue 19): every answered request, once its last byte is sent,
is attributed to a viewer session and counted in the latency and CMCD histograms.

The HTTP server calls `Viewers.answered` where it writes the access log; nothing else on the
request path changes. Attribution (DESIGN, "Audience and QoE"): CMCD `sid`, else
`X-Playback-Session-Id` (AVPlayer), else the client address and User-Agent (set-top boxes send
no CMCD; each home has its own address). The content and rendition come from the path
(/live/<channel>/<rendition>/..., /vod/<lesson>/<rendition>/...); a live channel's segments
live under its lessons' /vod/ paths, so a segment counts for the content the session is
watching when it has one.

Cost: a keep-alive set-top box's playlist reload, the same request head as last time answered
from cache, is not an observer call at all: the protocol counts it on the connection's memo
(edge/http/messages.py `SteadyHits`: a histogram bucket, a hit, the time), and `fold` adds the
hits to the session once a second and before every read (BENCHMARKS.md, "Viewers: cost"). Other
requests pay a path memo lookup, one session lookup and move, and a tuple for the
recent-requests ring; the CMCD parser runs only for requests that carry CMCD.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from posixpath import normpath
from typing import Any, cast
from urllib.parse import urljoin

from edge.cache.cache import EdgeCache
from edge.cache.keys import cache_key, classify
from edge.cache.stats import Histogram, series_name
from edge.errors import RequestError
from edge.http.messages import Request, SteadyHits
from edge.serve.audience import Audience, Session, tally
from edge.serve.cmcd import Value, request_cmcd

# Seconds to the last byte: a RAM hit is tens of microseconds, a disk hit of a 2 MB segment a
# few ms on loopback, a miss a fill's time (up to three target durations, 18 s for 6 s ones).
REQUEST_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 20.0,
)  # fmt: skip
# CMCD br, kbps: the rungs of an HLS ladder from 180p audio-and-video to 4K
BITRATE_BUCKETS = (150, 300, 500, 800, 1200, 2000, 3000, 4500, 6000, 8000, 12000, 20000)
# CMCD bl in seconds: under 2 s a player is about to stall; hls.js aims at 30 s for VOD
BUFFER_BUCKETS = (0.5, 1.0, 2.0, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 60.0)
# CMCD mtp, kbps: a weak 4G cell to a home's fibre
THROUGHPUT_BUCKETS = (500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000)

RING = 16384  # recent requests kept (all sessions) for the support lookup
LOOKUP_REQUESTS = 50  # a session's last requests in a lookup
MAX_CONTENTS = 512  # distinct content labels; beyond, "other" (labels must stay few)
MAX_PATHS = 16384  # the path memo is cleared when it is this big
TARGET_READ_S = 1.0  # target durations are read from the cache at most this often
QUIET_S = 0.05  # a playlist hit faster than this is counted per session, not listed
KINDS = {"playlist": "playlist", "segment": "segment", "init": "segment"}

# (duration label, content, rendition, watching): what a path says
Where = tuple[str, str, str, bool]
Recent = tuple[float, str, str, str, int, str, int, float]
# a connection's steady memo (SteadyHits.owner): the session, the content and rendition
Owner = tuple[Session, str, str]
FOLD_S = 1.0  # steady reloads counted on connections are folded into sessions this often
STEADY_KEEP_S = 30.0  # a connection's steady memo unused this long is let go
NOT_CONTENT: Where = ("", "", "", False)  # the edge's own endpoints


def where(path: str) -> Where:
    """The kind label, content, rendition of a path, and whether fetching it is watching (a
    media playlist or a segment: a master playlist or an init segment is fetched once)."""
    kind = classify(path)
    label = KINDS.get(kind, "other")
    parts = path.strip("/").split("/")
    if len(parts) < 3:
        return label, "", "", False
    content = f"{parts[0]}/{parts[1]}"
    rendition = parts[2] if len(parts) > 3 else ""
    if kind == "segment":
        return label, content, rendition, True
    is_media = kind == "playlist" and (rendition != "" or not parts[-1].startswith("master"))
    return label, content, rendition, is_media


class Viewers:
    def __init__(
        self,
        audience: Audience,
        clock: Callable[[], float],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        cache: EdgeCache | None = None,
        keep_query: frozenset[str] = frozenset(),
        endpoints: frozenset[str] = frozenset(),
    ) -> None:
        self.audience = audience
        self.clock = clock
        self.monotonic = monotonic  # the HTTP server's clock: SteadyHits.last is on it
        self._steady: list[SteadyHits] = []  # memos on connections, folded by `fold`
        self.cache = cache  # nor hints and target durations; None in unit tests
        self.keep_query = keep_query
        self.durations = Histogram(REQUEST_BUCKETS)
        self.bitrates = Histogram(BITRATE_BUCKETS)
        self.buffers = Histogram(BUFFER_BUCKETS)
        self.throughputs = Histogram(THROUGHPUT_BUCKETS)
        self.stalls: Counter[str] = Counter()
        self.startups: Counter[str] = Counter()
        self.malformed = 0  # CMCD values ignored
        self.hints = 0  # fills started by a CMCD nor
        self.recent: list[Recent | None] = [None] * RING
        self._next = 0
        self._paths: dict[str, Where] = dict.fromkeys(endpoints, NOT_CONTENT)
        self._endpoints = endpoints
        self._contents: set[str] = set()
        self._targets_due = 0.0
        self._duration_counts: dict[str, dict[str, list[float]]] = {
            label: {} for label in ("playlist", "segment", "other")
        }

    def answered(
        self,
        request: Request,
        status: int,
        x_cache: str,
        sent: int,
        s: float,
        connection: Any = None,
    ) -> None:
        target = request.target
        place = self._paths.get(target)
        if place is None:
            place = self._place(target.partition("?")[0] if "?" in target else target)
        if place is NOT_CONTENT:  # /metrics, /healthz, admin
            return
        kind, content, rendition, watch = place
        counts = self._duration_counts[kind].get(x_cache)
        if counts is None:
            counts = self._duration_series(kind, x_cache)
        counts[bisect_left(REQUEST_BUCKETS, s)] += 1
        counts[-1] += s
        if not content or request.method == "-":
            return
        now = self.clock()
        headers = request.headers
        cmcd = None
        if (
            "CMCD=" in target
            or "cmcd-session" in headers
            or "cmcd-request" in headers
            or "cmcd-object" in headers
            or "cmcd-status" in headers
        ):
            cmcd, bad = request_cmcd(target, headers)
            self.malformed += bad
        session = self._session(request, headers, cmcd, now)
        if status >= 400:
            session.errors += 1
            session.last_error = (now, status, target)
        elif watch:
            if session.content is content and session.rendition is rendition:
                # the steady state, a reload of the same playlist: no call, no allocation
                # (BENCHMARKS.md, "Viewers: cost")
                session.seen = now
                self.audience.sessions.move_to_end(session.key)
                if cmcd is None and kind == "playlist" and x_cache == "HIT" and s < QUIET_S:
                    session.quiet += 1  # counted, not listed in the recent requests
                    if connection is not None and status < 400:
                        self._remember(connection, target, counts, (session, content, rendition))
                    if now > self._targets_due:
                        self._read_target(content, target, now)
                    return
            else:
                self._watched(session, target, kind, content, rendition, now)
        if cmcd:
            self._cmcd(session, cmcd, content, target, status, kind)
        at = self._next
        self.recent[at] = (now, session.key, request.method, target, status, x_cache, sent, s)
        self._next = at + 1 if at + 1 < RING else 0

    def _duration_series(self, kind: str, x_cache: str) -> list[float]:
        labels = (kind, x_cache if x_cache != "-" else "NONE")
        counts = self.durations.series.setdefault(labels, [0.0] * (len(REQUEST_BUCKETS) + 2))
        self._duration_counts[kind][x_cache] = counts
        return counts

    def _session(
        self, request: Request, headers: dict[str, str], cmcd: dict[str, Value] | None, now: float
    ) -> Session:
        sid = cmcd.get("sid") if cmcd else None
        agent = headers.get("user-agent", "")
        if sid:
            key = f"sid:{sid}"
        else:
            playback = headers.get("x-playback-session-id")
            key = f"psid:{playback}" if playback else f"{request.peer} {agent}"
        session = self.audience.sessions.get(key)
        if session is None:
            return self.audience.session(key, request.peer, agent, now)
        session.peer = request.peer
        return session

    def _watched(
        self, session: Session, target: str, kind: str, content: str, rendition: str, now: float
    ) -> None:
        audience = self.audience
        old = session.content
        if (
            kind == "segment"
            and old
            and old != content
            and now - session.seen <= audience.window(old)
        ):
            content = old  # a live channel's segment, under its lesson's path
        if content not in self._contents:
            if len(self._contents) >= MAX_CONTENTS:
                content = "other"
            else:
                self._contents.add(content)
        audience.watched(session, content, rendition, now)
        if kind == "playlist" and content not in audience.targets and now > self._targets_due:
            self._read_target(content, target, now)

    def _read_target(self, content: str, target: str, now: float) -> None:
        """A content's target duration, from its playlist in the cache (one content a second
        at most: a playlist's target duration never changes, RFC 8216 6.2.1)."""
        self._targets_due = now + TARGET_READ_S
        if self.cache is None:
            return
        try:
            stored = self.cache.lookup(cache_key(target, self.keep_query))
        except RequestError:
            return
        if stored is not None and stored.meta.target_duration:
            self.audience.set_target(content, stored.meta.target_duration)

    def _cmcd(
        self,
        session: Session,
        cmcd: dict[str, Value],
        content: str,
        target: str,
        status: int,
        kind: str,
    ) -> None:
        label = session.content or content
        labels = (label,)
        br = cmcd.get("br")
        if isinstance(br, int):
            session.bitrate = br
            self.bitrates.observe(br, labels)
        bl = cmcd.get("bl")
        if isinstance(bl, int):
            session.buffer_ms = bl
            self.buffers.observe(bl / 1000, labels)
        mtp = cmcd.get("mtp")
        if isinstance(mtp, int):
            session.throughput = mtp
            self.throughputs.observe(mtp)
        if cmcd.get("bs") is True:
            self.stalls[label] += 1
            session.stalls += 1
            session.stalled_at = session.seen if session.seen else self.clock()
        if cmcd.get("su") is True:
            self.startups[label] += 1
        nor = cmcd.get("nor")
        if isinstance(nor, str) and status < 400 and kind == "segment":
            self._hint(target.partition("?")[0], nor)

    def _hint(self, path: str, nor: str) -> None:
        """CMCD nor names the next object relative to this request (CTA-5004 table 1): fetch it
        now if it belongs to the same content and is neither held nor being fetched."""
        if self.cache is None:
            return
        nxt = normpath(urljoin(path, nor.partition("?")[0]))
        if "://" in nor or nor.startswith("//") or nxt.split("/")[1:3] != path.split("/")[1:3]:
            return
        try:
            key = cache_key(nxt, self.keep_query)
        except RequestError:
            return
        if self.cache.hinted(key):
            self.hints += 1

    def _place(self, path: str) -> Where:
        place = self._paths.get(path)
        if place is not None:
            return place
        place = where(path)
        if len(self._paths) >= MAX_PATHS:
            self._paths = dict.fromkeys(self._endpoints, NOT_CONTENT)
        self._paths[path] = place
        return place

    # -- what a scrape and a support lookup read ------------------------------------------------
    def series(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for family, histogram in (
            ("request_duration_seconds", self.durations),
            ("viewer_bitrate_kbps", self.bitrates),
            ("viewer_buffer_seconds", self.buffers),
            ("viewer_throughput_kbps", self.throughputs),
        ):
            for labels, values in histogram.series.items():
                out[series_name(family, labels)] = list(values)
        for family, counts in (("stalls_total", self.stalls), ("startups_total", self.startups)):
            for content, count in counts.items():
                out[series_name(family, (content,))] = [float(count)]
        out["cmcd_malformed_total"] = [float(self.malformed)]
        out["cmcd_hints_total"] = [float(self.hints)]
        out["viewer_sessions_dropped_total"] = [float(self.audience.dropped)]
        return out

    def _remember(self, connection: Any, target: str, counts: list[float], owner: Owner) -> None:
        """The next reloads of `target` on this connection are counted there (`fold`). Its memo
        is reused when it holds nothing yet to fold: an LL player's blocking reloads name a new
        target each time, and a memo each would pile up until let go."""
        steady = connection.viewer
        if steady is None or steady.hits or steady.under_s < 0:
            steady = connection.viewer = SteadyHits(target, REQUEST_BUCKETS, counts, QUIET_S, owner)
            self._steady.append(steady)
        else:
            steady.target, steady.counts, steady.owner = target, counts, owner
        steady.last = self.monotonic()

    def fold(self) -> None:
        """Fold the reloads counted on connections (edge/http's SteadyHits) into their
        sessions, oldest first: once a second and before every read, so the audience's order
        stays within a fold of the order of last sight (`tally` reads it newest first)."""
        if not self._steady:
            return
        now, mono = self.clock(), self.monotonic()
        audience = self.audience
        pending = sorted((memo for memo in self._steady if memo.hits), key=attrgetter("last"))
        for memo in pending:
            hits, memo.hits = memo.hits, 0
            session, content, rendition = cast(Owner, memo.owner)
            seen = now - (mono - memo.last)
            if audience.sessions.get(session.key) is not session:  # dropped (cap) or forgotten
                session = audience.session(session.key, session.peer, session.agent, seen)
                memo.owner = (session, content, rendition)
            session.quiet += hits
            if seen > session.seen:
                if session.content is content and session.rendition is rendition:
                    audience.watched(session, content, rendition, seen)
                else:
                    self._watched(session, memo.target, "playlist", content, rendition, seen)
            if now > self._targets_due:
                self._read_target(session.content, memo.target, now)
        kept = []
        for memo in self._steady:
            if mono - memo.last <= STEADY_KEEP_S:
                kept.append(memo)
            else:  # let go: the connection's next reload is answered by `answered` again
                memo.under_s = -1.0
        self._steady = kept

    async def keep_folding(self) -> None:
        while True:
            await asyncio.sleep(FOLD_S)
            self.fold()

    def tally(self) -> dict[str, Any]:
        """This process's viewers, for a scrape (merged over a node's workers)."""
        self.fold()
        now = self.clock()
        self.audience.forget_idle(now)
        counted = tally(self.audience, now)
        counted["known"] = sorted(self._contents)
        return counted

    def lookup(self, client: str = "", sid: str = "") -> list[dict[str, Any]]:
        """What the support desk reads about one viewer (GET /_admin/viewers)."""
        self.fold()
        now = self.clock()
        sessions = self.audience.find(client, sid)
        keys = {session.key for session in sessions}
        recent: dict[str, list[Recent]] = {key: [] for key in keys}
        for entry in self._recent_entries():
            if entry[1] in keys:
                recent[entry[1]].append(entry)
        return [self._described(s, recent[s.key][-LOOKUP_REQUESTS:], now) for s in sessions]

    def _recent_entries(self) -> list[Recent]:
        at = self._next
        return [e for e in (*self.recent[at:], *self.recent[:at]) if e is not None]

    def _described(self, session: Session, recent: list[Recent], now: float) -> dict[str, Any]:
        audience = self.audience
        watching = now - session.seen <= audience.window(session.content)
        error = session.last_error
        return {
            "session": session.key,
            "client": session.peer,
            "user_agent": session.agent,
            "watching": watching,
            "content": session.content,
            "rendition": session.rendition,
            "window_s": audience.window(session.content),
            "last_seen": session.seen or None,
            "history": [
                {"at": at, "content": content, "rendition": rendition}
                for at, content, rendition in session.changes()
            ],
            "cmcd": {
                "bitrate_kbps": _said(session.bitrate),
                "buffer_s": session.buffer_ms / 1000 if session.buffer_ms >= 0 else None,
                "throughput_kbps": _said(session.throughput),
                "stalls": session.stalls,
                "stalled_now": audience.is_stalled(session, now),
            },
            "quiet_playlist_hits": session.quiet,
            "errors": {
                "count": session.errors,
                "last": None
                if error is None
                else {"at": error[0], "status": error[1], "path": error[2]},
            },
            "requests": [
                {
                    "at": at,
                    "method": method,
                    "path": target,
                    "status": status,
                    "cache": x_cache,
                    "bytes": sent,
                    "ms": round(seconds * 1000, 3),
                }
                for at, _, method, target, status, x_cache, sent, seconds in recent
            ],
        }


def _said(value: int) -> int | None:
    return value if value >= 0 else None
