"""The origin's exceptions: start-up problems exit with one line, request problems become a 4xx."""

from __future__ import annotations


class OriginError(Exception):
    """Base of every error the origin raises on purpose."""


class ConfigError(OriginError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


class ScheduleError(OriginError):
    """config/schedule.toml is unreadable or disagrees with the library."""


class LibraryError(OriginError):
    """A lesson folder is not a usable HLS package."""


class PackagerError(OriginError):
    """ffmpeg/ffprobe failed or the input cannot be packaged."""


class RequestError(OriginError):
    """A client error answered with `status` and a short reason in the body."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.reason!r})"


class BadRequest(RequestError):
    status = 400


class NotFound(RequestError):
    status = 404


class PreconditionFailed(RequestError):
    status = 412


class RangeNotSatisfiable(RequestError):
    status = 416


class NotStarted(RequestError):
    """A live channel whose first segment has not ended yet (RFC 9110 15.6.4)."""

    status = 503
