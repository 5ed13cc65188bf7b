"""Response heads, built in one place: the status line, the headers every answer from a stored
object carries (prebuilt once per stored version) and the few added per request (DESIGN step 6).

Framing headers (Date, Content-Length, Connection) are the protocol's; the rest are here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

from edge.http.messages import Answer

EXPOSED = "Age, X-Cache, Content-Length, Content-Range, ETag, Accept-Ranges, Date"
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
PREFLIGHT_HEADERS = "Range, If-None-Match, If-Modified-Since, If-Range, Origin, Accept"
ERROR_HEADERS = b"Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d Unknown\r\n" % status


def lines(fields: Iterable[tuple[str, str]]) -> bytes:
    """Header lines; values keep the bytes upstream sent (aiohttp decodes with surrogates)."""
    return "".join(f"{name}: {value}\r\n" for name, value in fields).encode(
        "utf-8", "surrogateescape"
    )


def per_request(age: float, x_cache: str) -> bytes:
    return b"Age: %d\r\nX-Cache: %s\r\n" % (int(age), x_cache.encode())


@dataclass(frozen=True, slots=True)
class HeadBuilder:
    via: str
    cors_origin: str
    common: bytes = field(init=False)

    def __post_init__(self) -> None:
        fields = [("Via", f"1.1 {self.via}")]
        if self.cors_origin:
            fields += [
                ("Access-Control-Allow-Origin", self.cors_origin),
                ("Access-Control-Expose-Headers", EXPOSED),
            ]
        object.__setattr__(self, "common", lines(fields))

    def representation(
        self,
        *,
        content_type: str,
        cache_control: str | None,
        etag: str | None,
        last_modified: str | None,
        extra: Mapping[str, str],
        ranges: bool,
    ) -> bytes:
        """The headers of one stored version (or of a body streamed while it arrives).
        `cache_control` None: the origin's own is among `extra`, whose values are the field
        lines as received, joined by "\n"."""
        fields = [("Content-Type", content_type)]
        if cache_control is not None:
            fields.append(("Cache-Control", cache_control))
        if etag is not None:
            fields.append(("ETag", etag))
        if last_modified is not None:
            fields.append(("Last-Modified", last_modified))
        if ranges:
            fields.append(("Accept-Ranges", "bytes"))
        kept = [(name, line) for name, value in extra.items() for line in value.split("\n")]
        dated = [field for field in kept if field[0].lower() == "date"]
        if dated:  # the origin's Date goes first: the protocol then adds none of its own
            rest = [field for field in kept if field[0].lower() != "date"]
            return lines(dated[:1]) + self.common + lines([*fields, *rest])
        return self.common + lines([*fields, *kept])

    def error(self, status: int, reason: str, extra: Mapping[str, str] | None = None) -> Answer:
        """A refusal or failure: a one-line reason, never cached."""
        head = self.common + ERROR_HEADERS
        if extra:
            head += lines(extra.items())
        return Answer(status, head, reason.encode("utf-8", "replace") + b"\n")

    def preflight(self) -> Answer:
        """CORS preflight (Fetch standard, CORS protocol): what web players may send."""
        head = self.common + lines(
            [
                ("Access-Control-Allow-Methods", ALLOWED_METHODS),
                ("Access-Control-Allow-Headers", PREFLIGHT_HEADERS),
                ("Access-Control-Max-Age", "86400"),
            ]
        )
        return Answer(204, head)
