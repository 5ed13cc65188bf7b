"""RFC 9110 rules for answering from a stored representation: HTTP dates, entity-tag
comparison, preconditions and byte ranges. Pure; the edge and the origin both decide with these,
so a given request gets the same answer from either (a malformed Range is 400 at both)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime

MAX_RANGE_DIGITS = 18  # a position past 10**18 bytes is no file; int() of 5,000 digits raises
SAFE_METHODS = ("GET", "HEAD")


class RangeError(Exception):
    """A Range the server will not honour: `status` is 400 (malformed) or 416 (misses)."""

    def __init__(self, status: int, reason: str, size: int) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.size = size  # RFC 9110 15.5.17: a 416 says how long the representation is


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def http_date(unix_seconds: float) -> str:
    return formatdate(math.floor(unix_seconds), usegmt=True)


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date as unix seconds; None for anything invalid (RFC 9110 13.1.3: ignore it)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d{2}):(\d{2}):(\d{2})"
# RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms, exactly, except
# that names are read in any case ("THU", "AUG", "gmt"), as nginx and Varnish read them
# (cache-tests freshness-expires-wrong-case-*): a wrong case is no near miss to guess at
_I = re.IGNORECASE
_HTTP_DATES = (
    (re.compile(rf"{_DAY}, (\d{{2}}) {_MON} (\d{{4}}) {_TIME} GMT", _I), "dmy"),
    (
        re.compile(
            r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
            rf"(\d{{2}})-{_MON}-(\d{{2}}) {_TIME} GMT",
            _I,
        ),
        "dmy2",
    ),
    (re.compile(rf"{_DAY} {_MON} ([ \d]\d) {_TIME} (\d{{4}})", _I), "asctime"),
)


def parse_http_date_strict(value: str | None) -> float | None:
    """An HTTP-date in one of RFC 9110's three forms, else None (RFC 9111 5.3: an invalid
    Expires means "already expired", so near misses must not be guessed at)."""
    if not value:
        return None
    for pattern, form in _HTTP_DATES:
        match = pattern.fullmatch(value)
        if match is None:
            continue
        groups = match.groups()
        if form == "asctime":
            month, day, hh, mm, ss, year = groups
        else:
            day, month, year, hh, mm, ss = groups
        years = int(year)
        if form == "dmy2":  # RFC 9110 5.6.7: a two-digit year more than 50 years ahead is past
            years += 2000 if years + 2000 <= time.gmtime().tm_year + 50 else 1900
        try:
            fields = (years, _MONTHS.index(month.title()) + 1, int(day), int(hh), int(mm), int(ss))
            return datetime(*fields, tzinfo=UTC).timestamp()
        except ValueError:
            return None
    return None


def etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """RFC 9110 8.8.3.2: weak comparison ignores W/; strong needs two strong, equal tags."""
    tags = etags(header)
    if "*" in tags:
        return True
    if weak:
        return etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}
    return not etag.startswith("W/") and etag in tags


@dataclass(frozen=True, slots=True)
class Precondition:
    """What a request's preconditions decided: 304, or 412 with the reason a client is told."""

    status: int
    reason: str = ""


def precondition(
    method: str, headers: Mapping[str, str], etag: str, last_modified: float | None
) -> Precondition | None:
    """RFC 9110 13.2.2, steps 1 to 4 in order; None means go on (to Range, step 5).

    `headers` is case-insensitive or has lower-case names.
    """
    failed = _state_precondition(headers, etag, last_modified)
    if failed is not None:
        return failed
    if_none_match = headers.get("if-none-match")
    if method not in SAFE_METHODS:
        # 13.1.2: a matching If-None-Match on any other method is 412; If-Modified-Since
        # (13.1.3) applies to GET and HEAD only.
        matched = if_none_match is not None and etag_matches(if_none_match, etag, weak=True)
        return Precondition(412, "ETag match") if matched else None
    if is_not_modified(if_none_match, headers.get("if-modified-since"), etag, last_modified):
        return Precondition(304)
    return None


def _state_precondition(
    headers: Mapping[str, str], etag: str, last_modified: float | None
) -> Precondition | None:
    """Steps 1 and 2: If-Match (13.1.1, strong comparison), else If-Unmodified-Since (13.1.4)."""
    if_match = headers.get("if-match")
    if if_match is not None:
        if etag_matches(if_match, etag, weak=False):
            return None
        return Precondition(412, "If-Match does not match the current ETag")
    since = parse_http_date(headers.get("if-unmodified-since"))
    if since is not None and last_modified is not None and math.floor(last_modified) > since:
        return Precondition(412, "modified since If-Unmodified-Since")
    return None


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float | None
) -> bool:
    """RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only when it is absent."""
    if if_none_match is not None:
        return etag_matches(if_none_match, etag, weak=True)
    if if_modified_since is None or last_modified is None:
        return False
    since = parse_http_date(if_modified_since)
    return since is not None and math.floor(last_modified) <= since


def range_applies(if_range: str | None, etag: str, last_modified_http: str | None) -> bool:
    """RFC 9110 13.1.5: a Range is honoured only if If-Range (when sent) still matches.

    An entity tag must match strongly; a date must equal Last-Modified exactly.
    """
    if if_range is None:
        return True
    if if_range.startswith(('"', "W/")):
        return not if_range.startswith("W/") and if_range == etag and not etag.startswith("W/")
    return bool(last_modified_http) and if_range == last_modified_http


def _number(text: str) -> int | None:
    """ASCII digits only (str.isdigit alone takes "²"); a number longer than any body's size
    means "this large" (int() refuses strings over 4,300 digits, which was a 500)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0")
    return 10**MAX_RANGE_DIGITS if len(significant) > MAX_RANGE_DIGITS else int(significant or "0")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """RFC 9110 14.1.2 / 14.2. None means send the whole representation.

    A unit other than bytes, or several ranges, is answered with the whole body (the RFC lets a
    server ignore Range). A malformed bytes range raises RangeError 400 with the reason; a
    well-formed range that misses the body raises RangeError 416.
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    malformed = RangeError(400, f"malformed Range header: {header[:64]!r}", size)
    first, dash, last = spec.strip().partition("-")
    start, end = _number(first), _number(last)
    if not dash or (first and start is None) or (last and end is None):
        raise malformed
    if start is None:
        if end is None:
            raise malformed
        if end == 0 or size == 0:
            raise RangeError(416, f"range not satisfiable for {size} bytes", size)
        return ByteRange(max(0, size - end), size - 1)
    if end is not None and end < start:
        raise malformed
    if start >= size:
        raise RangeError(416, f"range starts past the end of {size} bytes", size)
    return ByteRange(start, size - 1 if end is None else min(end, size - 1))
