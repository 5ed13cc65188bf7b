"""The origin's answer for an object, decided in plain code (no I/O) by the RFC 9110 rules
for preconditions, If-Range and byte ranges that the edge uses too (classcast.http_rules).

The handler describes the object (length, validators, headers) and gets back the status, the
headers to add and which bytes of the body to send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from classcast.http_rules import RangeError, http_date, parse_range, precondition, range_applies


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
    decided = precondition(method, request, rep.etag, rep.last_modified)
    if decided is not None:
        return Answer(decided.status, base, reason=decided.reason)
    full = Answer(200, {**base, "Content-Type": rep.content_type}, 0, rep.length)
    if method != "GET" or "Range" not in request:
        return full
    if not range_applies(request.get("If-Range"), rep.etag, base.get("Last-Modified")):
        return full  # RFC 9110 13.1.5: the representation changed, so send all of it
    return _range_answer(request["Range"], rep, full)


def _range_answer(header: str, rep: Representation, full: Answer) -> Answer:
    try:
        window = parse_range(header, rep.length)
    except RangeError as exc:
        return Answer(exc.status, {"Content-Range": f"bytes */{rep.length}"}, reason=exc.reason)
    if window is None:
        return full  # RFC 9110 14.2: another unit, or several ranges: the whole body
    content_range = {"Content-Range": window.content_range(rep.length)}
    return Answer(206, {**full.headers, **content_range}, window.start, window.end + 1)
