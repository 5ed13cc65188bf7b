"""The edge's exceptions: each carries the HTTP status and the reason a client is told."""

from __future__ import annotations

from classcast.errors import ClasscastError, HttpError
from classcast.errors import ConfigError as ConfigError  # one for every service


class EdgeError(ClasscastError):
    """Base of every error the edge raises on purpose."""


class RequestError(EdgeError, HttpError):
    """Bad client input, answered with a 4xx and a short reason, never a 500."""

    status = 400


class BadRequest(RequestError):
    status = 400


class NotAcceptableRange(RequestError):
    status = 416

    def __init__(self, reason: str, size: int) -> None:
        # RFC 9110 15.5.17: a 416 says how long the representation is
        super().__init__(reason, {"Content-Range": f"bytes */{size}"})


class LoopDetected(RequestError):
    status = 508


class UriTooLong(RequestError):
    status = 414


class UpstreamError(EdgeError, HttpError):
    """Upstream could not give a usable answer (connect failure, timeout, broken body)."""

    status = 502

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        if timeout:
            self.status = 504
