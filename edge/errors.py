"""The edge's exceptions: each carries the HTTP status and the reason a client is told."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error the edge raises on purpose."""


class ConfigError(EdgeError):
    """A bad configuration value; the message names the key."""


class RequestError(EdgeError):
    """Bad client input, answered with a 4xx and a short reason, never a 500."""

    status = 400

    def __init__(self, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers = headers or {}


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


class UpstreamError(EdgeError):
    """Upstream could not give a usable answer (connect failure, timeout, broken body)."""

    status = 502

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        if timeout:
            self.status = 504
