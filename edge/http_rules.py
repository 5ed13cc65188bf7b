"""RFC 9110 rules for answering from the cache: preconditions and byte ranges. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from edge.errors import BadRequest, NotAcceptableRange


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999999
        return None


def _etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _weak_match(a: str, b: str) -> bool:
    # RFC 9110 8.8.3.2: weak comparison ignores the W/ prefix
    return a.removeprefix("W/") == b.removeprefix("W/")


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float | None
) -> bool:
    """RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only when it is absent."""
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or any(_weak_match(tag, etag) for tag in tags)
    if if_modified_since is None or last_modified is None:
        return False
    since = _http_date(if_modified_since)
    return since is not None and int(last_modified) <= since


def range_applies(if_range: str | None, etag: str, last_modified_http: str) -> bool:
    """RFC 9110 13.1.5: a Range is honoured only if If-Range (when sent) still matches.

    An entity tag must match strongly; a date must equal Last-Modified exactly.
    """
    if if_range is None:
        return True
    if if_range.startswith(('"', "W/")):
        return not if_range.startswith("W/") and if_range == etag and not etag.startswith("W/")
    return if_range == last_modified_http


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone takes "²"


MAX_DIGITS = 18  # past any body's size: a longer number means "this large" (int() refuses
# strings over 4,300 digits with ValueError, which was a 500; found by the issue-9 fuzzing)


def _number(digits: str) -> int:
    significant = digits.lstrip("0")
    return 10**MAX_DIGITS if len(significant) > MAX_DIGITS else int(significant or "0")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """RFC 9110 14.1.2 / 14.2. None means send the whole representation.

    A unit other than bytes, or several ranges, is answered with the whole body (the RFC lets a
    server ignore Range). A malformed bytes range gets 400 with the reason; a well-formed range
    that misses the body gets 416.
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (_digits(first) or first == "") or not (_digits(last) or last == ""):
        raise BadRequest(f"malformed Range header: {header[:64]!r}")
    if first == "":
        if last == "":
            raise BadRequest(f"malformed Range header: {header[:64]!r}")
        suffix = _number(last)
        if suffix == 0 or size == 0:
            raise NotAcceptableRange(f"range not satisfiable for {size} bytes", size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = _number(first)
    end = _number(last) if last else size - 1
    if last and end < start:
        raise BadRequest(f"malformed Range header: {header[:64]!r}")
    if start >= size:
        raise NotAcceptableRange(f"range starts past the end of {size} bytes", size)
    return ByteRange(start, min(end, size - 1))
