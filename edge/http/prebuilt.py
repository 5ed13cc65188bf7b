"""Whole answers joined once per stored version (issue 21): the status line, every header that
does not change per request and Content-Length, as one bytes object kept with the stored copy.

Per request only Date (the server's, turned once a second), the per-request lines the content
handler adds (Age, X-Cache) and the blank line are added. A small body's whole response is
kept too, and reused while the second and the per-request lines stay the same: a hot playlist
asked thousands of times a second is joined once a second, not once a request. What goes out
is the same bytes a TLS writer would encrypt, so it can take them as they are.
"""

from __future__ import annotations

from edge.http.heads import status_line

WHOLE_MAX = 64 * 1024  # bodies up to this size are kept joined to their head (playlists)


class Prebuilt:
    __slots__ = ("_date", "_extra", "_whole", "dated", "headers", "prefix")

    def __init__(self, status: int, headers: bytes, length: int) -> None:
        self.headers = headers  # the object's own header lines, for answers built per request
        # a stored response that keeps its origin's Date starts with it (edge/http/heads.py):
        # then the server's Date line is not added
        self.dated = headers[:5] == b"Date:"
        self.prefix = status_line(status) + headers + b"Content-Length: %d\r\n" % length
        self._date: bytes | None = None
        self._extra = b""
        self._whole = b""

    def __repr__(self) -> str:
        return f"<Prebuilt {self.prefix[:40]!r}... {len(self.prefix)} bytes>"

    def head(self, date_line: bytes, extra: bytes) -> bytes:
        return b"".join((self.prefix, b"" if self.dated else date_line, extra, b"\r\n"))

    def whole(self, date_line: bytes, extra: bytes, body: bytes) -> bytes:
        """Head and body in one buffer, the last one reused while Date and `extra` are the
        same (the server makes a new Date line each second: an identity test suffices)."""
        if date_line is self._date and extra == self._extra:
            return self._whole
        whole = b"".join((self.prefix, b"" if self.dated else date_line, extra, b"\r\n", body))
        self._date, self._extra, self._whole = date_line, extra, whole
        return whole
