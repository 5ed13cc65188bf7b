"""Viewer sessions (DESIGN, "Audience and QoE"): who watches which content and rendition.

Pure: the caller says what a request showed and when; nothing here reads a clock or a socket.
A session is watching while its last media playlist or segment request is at most a window
old: `window_targets` target durations of its content (3 by default: a set-top box reloads
every target duration, so two lost reloads do not drop it). Sessions are kept in the order of
their last watching request, so a scrape walks only the watching ones, newest first, and the
oldest is the one dropped when the cap is reached.

Memory: a session is one slotted record, its key and one ordered-dict entry, about 500 bytes
(BENCHMARKS.md, "Viewer sessions"); rendition switches are kept only for sessions that switch.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

DEFAULT_TARGET_S = 6.0  # a content's target duration until one of its playlists says
HISTORY = 8  # content/rendition changes kept per session for the support lookup
# sessions stand in the order of their last sight within this: a keep-alive reload counted on
# its connection is folded in up to a second late, with the time it was made (viewers.fold)
ORDER_SLACK_S = 5.0
RETAIN_S = 600.0  # an idle session is forgotten after this (the support lookup's horizon)

Change = tuple[float, str, str]  # (time, content, rendition)


class Session:
    __slots__ = (
        "agent",
        "bitrate",
        "buffer_ms",
        "content",
        "errors",
        "history",
        "ident",
        "key",
        "last_error",
        "peer",
        "quiet",
        "rendition",
        "seen",
        "stalled_at",
        "stalls",
        "started",
        "throughput",
    )

    def __init__(self, key: str, peer: str, agent: str, now: float) -> None:
        self.key = key
        # the same viewer has the same ident in every worker of a node (a stable hash, not
        # Python's per-process one), so a node counts it once
        self.ident = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()) >> 1
        self.peer = peer
        self.agent = agent
        self.content = ""
        self.rendition = ""
        self.started = now
        self.seen = 0.0  # the last media playlist or segment request
        self.stalled_at = -1e18
        self.stalls = 0
        self.bitrate = -1  # CMCD br, kbps (-1: never said)
        self.buffer_ms = -1  # CMCD bl
        self.throughput = -1  # CMCD mtp, kbps
        self.errors = 0
        self.quiet = 0  # fast playlist hits, not kept among the recent requests
        self.last_error: tuple[float, int, str] | None = None
        self.history: list[Change] | None = None  # only once it changes

    def __repr__(self) -> str:
        return f"<Session {self.key!r} {self.content}/{self.rendition} seen={self.seen:.1f}>"

    def changes(self) -> list[Change]:
        """Its content and rendition over time, first one first."""
        if self.history is not None:
            return list(self.history)
        return [(self.started, self.content, self.rendition)] if self.content else []


class Audience:
    """The sessions of one process, bounded by `cap` (the oldest dropped and counted)."""

    def __init__(self, cap: int, window_targets: float = 3.0) -> None:
        self.cap = cap
        self.window_targets = window_targets
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.targets: dict[str, float] = {}  # content -> its target duration
        self.dropped = 0
        self.longest = DEFAULT_TARGET_S * window_targets

    def __len__(self) -> int:
        return len(self.sessions)

    def session(self, key: str, peer: str, agent: str, now: float) -> Session:
        """The session `key`, made (as the oldest) when it is new."""
        found = self.sessions.get(key)
        if found is not None:
            return found
        if len(self.sessions) >= self.cap:
            self.sessions.popitem(last=False)
            self.dropped += 1
        made = self.sessions[key] = Session(key, peer, agent, now)
        self.sessions.move_to_end(key, last=False)  # not watching yet: the scrape's order holds
        return made

    def watched(self, session: Session, content: str, rendition: str, now: float) -> None:
        """`session` fetched a media playlist or segment of `content` in `rendition`."""
        if content != session.content or rendition != session.rendition:
            _changed(session, content, rendition, now)
        session.seen = now
        self.sessions.move_to_end(session.key)

    def set_target(self, content: str, target_s: float) -> None:
        self.targets[content] = target_s
        self.longest = max(self.longest, target_s * self.window_targets)

    def window(self, content: str) -> float:
        return self.targets.get(content, DEFAULT_TARGET_S) * self.window_targets

    def is_stalled(self, session: Session, now: float) -> bool:
        return now - session.stalled_at <= self.window(session.content)

    def forget_idle(self, now: float) -> int:
        """Drop the sessions idle for RETAIN_S (oldest first); returns how many."""
        gone = 0
        sessions = self.sessions
        while sessions:
            oldest = next(iter(sessions.values()))
            if now - max(oldest.seen, oldest.started) <= RETAIN_S:
                break
            sessions.popitem(last=False)
            gone += 1
        return gone

    def find(self, client: str = "", sid: str = "") -> list[Session]:
        """The sessions of a client address, or the one with a CMCD/playback session id."""
        if sid:
            found = [self.sessions.get(f"sid:{sid}"), self.sessions.get(f"psid:{sid}")]
            return [session for session in found if session is not None]
        return [session for session in self.sessions.values() if session.peer == client]


def _changed(session: Session, content: str, rendition: str, now: float) -> None:
    if session.content:
        history = session.history
        if history is None:
            history = session.history = [(session.started, session.content, session.rendition)]
        history.append((now, content, rendition))
        del history[:-HISTORY]
    else:
        session.started = now
    session.content = content
    session.rendition = rendition


def tally(audience: Audience, now: float) -> dict[str, Any]:
    """What one process sees now, in a form a node can merge (a viewer on two workers counts
    once): per content and rendition the idents watching, per content the idents stalled."""
    viewers: dict[str, dict[str, list[int]]] = {}
    stalled: dict[str, list[int]] = {}
    windows: dict[str, float] = {}
    longest = audience.longest
    # one pass, newest first, over the watching sessions only: the scrape's cost at 100,000
    # sessions (BENCHMARKS.md, "Viewers: memory and scrape")
    for session in reversed(audience.sessions.values()):
        age = now - session.seen
        if age > longest + ORDER_SLACK_S:
            break
        content = session.content
        window = windows.get(content)
        if window is None:
            window = windows[content] = audience.window(content)
        if age > window:
            continue
        renditions = viewers.get(content)
        if renditions is None:
            renditions = viewers[content] = {}
        idents = renditions.get(session.rendition)
        if idents is None:
            idents = renditions[session.rendition] = []
        idents.append(session.ident)
        if now - session.stalled_at <= window:
            stalled.setdefault(content, []).append(session.ident)
    return {"viewers": viewers, "stalled": stalled}


@dataclass(frozen=True, slots=True)
class Counts:
    """Viewers per (content, rendition), per content, and stalled viewers per content."""

    by_rendition: dict[tuple[str, str], int]
    by_content: dict[str, int]
    stalled: dict[str, int]


def merged(tallies: list[dict[str, Any]]) -> Counts:
    """The counts over the tallies of a node's workers: a session (its ident) counts once.
    Contents a tally names as known and nobody watches count 0, so a gauge falls to 0."""
    if len(tallies) == 1:  # one process: every ident is there once
        return _counted(tallies[0])
    by_rendition: dict[tuple[str, str], set[int]] = {}
    by_content: dict[str, set[int]] = {}
    stalled: dict[str, set[int]] = {}
    for one in tallies:
        for content in one.get("known", ()):
            by_content.setdefault(content, set())
            stalled.setdefault(content, set())
        viewers = one.get("viewers")
        if isinstance(viewers, dict):
            for content, renditions in viewers.items():
                everyone = by_content.setdefault(content, set())
                for rendition, idents in renditions.items():
                    by_rendition.setdefault((content, rendition), set()).update(idents)
                    everyone.update(idents)
        stalls = one.get("stalled")
        if isinstance(stalls, dict):
            for content, idents in stalls.items():
                stalled.setdefault(content, set()).update(idents)
    return Counts(
        {pair: len(idents) for pair, idents in by_rendition.items()},
        {content: len(idents) for content, idents in by_content.items()},
        {content: len(idents) for content, idents in stalled.items()},
    )


def _counted(one: dict[str, Any]) -> Counts:
    by_content = dict.fromkeys(one.get("known", ()), 0)
    stalled = dict.fromkeys(one.get("known", ()), 0)
    by_rendition = {}
    for content, renditions in one.get("viewers", {}).items():
        for rendition, idents in renditions.items():
            by_rendition[(content, rendition)] = len(idents)
        by_content[content] = sum(len(idents) for idents in renditions.values())
    for content, idents in one.get("stalled", {}).items():
        stalled[content] = len(idents)
    return Counts(by_rendition, by_content, stalled)
