"""RFC 9110 conditional requests and byte ranges, decided in plain code (no I/O).

The handler describes the object (length, validators, headers) and gets back the status, the
headers to add and which bytes of the body to send.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime


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


def http_date(unix_seconds: float) -> str:
    return formatdate(math.floor(unix_seconds), usegmt=True)


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


RANGE_SPEC = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


def _range_answer(header: str, rep: Representation, full: Answer) -> Answer:
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes":
        return full  # RFC 9110 14.2: ignore a Range with a unit we do not support
    unsatisfiable = {"Content-Range": f"bytes */{rep.length}"}
    if "," in specs:
        return full  # RFC 9110 14.2: a server MAY ignore Range; we do not send multipart
    match = RANGE_SPEC.fullmatch(specs)
    if match is None or match.group(1) == match.group(2) == "":
        return Answer(416, unsatisfiable, reason=f"malformed Range header {header!r}")
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix range: the last N bytes (RFC 9110 14.1.2)
        start, end = max(0, rep.length - int(last)), rep.length
        if int(last) == 0 or rep.length == 0:
            return Answer(416, unsatisfiable, reason="zero-length suffix range")
    else:
        start = int(first)
        end = rep.length if last == "" else min(int(last) + 1, rep.length)
        if last != "" and int(last) < start:
            return Answer(416, unsatisfiable, reason=f"malformed Range header {header!r}")
        if start >= rep.length:
            return Answer(416, unsatisfiable, reason=f"range starts beyond {rep.length} bytes")
    content_range = {"Content-Range": f"bytes {start}-{end - 1}/{rep.length}"}
    return Answer(206, {**full.headers, **content_range}, start, end)


def _matches(header: str, etag: str, weak: bool) -> bool:
    if header.strip() == "*":
        return True
    candidates = [tag.strip() for tag in header.split(",")]
    if weak:
        return etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in candidates}
    return not etag.startswith("W/") and etag in candidates


def _parse_date(text: str) -> int | None:
    try:
        return math.floor(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # RFC 9110 13.1.3: ignore an invalid date
