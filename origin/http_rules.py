"""RFC 9110 conditional requests and byte ranges, decided in plain code (no I/O).

The handler describes the object (length, validators, headers) and gets back the status, the
headers to add and which bytes of the body to send.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from classcast.http_rules import (
    RangeError,
    etag_matches,
    http_date,
    parse_http_date,
    parse_range,
)


@dataclass(frozen=True)
class Representation:
    length: int
    etag: str  # a strong entity-tag, quotes included
    last_modified: float | None  # unix seconds
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    start: int = 0
    end: int = 0  # exclusive; start == end means no body bytes
    reason: str = ""  # body text for 4xx answers

    @property
    def length(self) -> int:
        return self.end - self.start


def validator_headers(rep: Representation) -> dict[str, str]:
    headers = {"ETag": rep.etag, "Cache-Control": rep.cache_control, "Accept-Ranges": "bytes"}
    if rep.last_modified is not None:
        headers["Last-Modified"] = http_date(rep.last_modified)
    return headers


def decide(method: str, request: Mapping[str, str], rep: Representation) -> Answer:
    """Evaluate preconditions in the order of RFC 9110 section 13.2.2, then Range (14.2)."""
    base = validator_headers(rep)
    precondition = _preconditions(method, request, rep)
    if precondition is not None:
        return Answer(
            precondition.status, {**base, **precondition.headers}, reason=precondition.reason
        )
    full = Answer(200, {**base, "Content-Type": rep.content_type}, 0, rep.length)
    if method != "GET" or "Range" not in request or not _if_range_holds(request, rep):
        return full
    return _range_answer(request["Range"], rep, full)


def _preconditions(method: str, request: Mapping[str, str], rep: Representation) -> Answer | None:
    modified = math.floor(rep.last_modified) if rep.last_modified is not None else None
    if "If-Match" in request:
        # RFC 9110 13.1.1: strong comparison; false means 412.
        if not _matches(request["If-Match"], rep.etag, weak=False):
            return Answer(412, reason="If-Match does not match the current ETag")
    elif "If-Unmodified-Since" in request:
        since = _parse_date(request["If-Unmodified-Since"])
        if since is not None and modified is not None and modified > since:
            return Answer(412, reason="modified since If-Unmodified-Since")
    if "If-None-Match" in request:
        # RFC 9110 13.1.2: weak comparison; a match is 304 for GET/HEAD, 412 otherwise.
        if _matches(request["If-None-Match"], rep.etag, weak=True):
            return Answer(304) if method in ("GET", "HEAD") else Answer(412, reason="ETag match")
    elif "If-Modified-Since" in request and method in ("GET", "HEAD"):
        # RFC 9110 13.1.3: only without If-None-Match, and only GET/HEAD.
        since = _parse_date(request["If-Modified-Since"])
        if since is not None and modified is not None and modified <= since:
            return Answer(304)
    return None


def _if_range_holds(request: Mapping[str, str], rep: Representation) -> bool:
    """RFC 9110 13.1.5: a strong ETag match or an exact Last-Modified match, else ignore Range."""
    condition = request.get("If-Range")
    if condition is None:
        return True
    if condition.startswith(('"', "W/")):
        return _matches(condition, rep.etag, weak=False)
    since = _parse_date(condition)
    return (
        since is not None
        and rep.last_modified is not None
        and (math.floor(rep.last_modified) == since)
    )


def _range_answer(header: str, rep: Representation, full: Answer) -> Answer:
    try:
        window = parse_range(header, rep.length)
    except RangeError as exc:
        return Answer(exc.status, {"Content-Range": f"bytes */{rep.length}"}, reason=exc.reason)
    if window is None:
        return full  # RFC 9110 14.2: another unit, or several ranges: the whole body
    content_range = {"Content-Range": window.content_range(rep.length)}
    return Answer(206, {**full.headers, **content_range}, window.start, window.end + 1)


def _matches(header: str, etag: str, weak: bool) -> bool:
    return etag_matches(header, etag, weak=weak)


def _parse_date(text: str) -> int | None:
    since = parse_http_date(text)
    return None if since is None else math.floor(since)
