"""The origin's exceptions: start-up problems exit with one line, request problems become a 4xx."""

from __future__ import annotations

from classcast.errors import ClasscastError, HttpError
from classcast.errors import ConfigError as ConfigError  # one for every service


class OriginError(ClasscastError):
    """Base of every error the origin raises on purpose."""


class ScheduleError(OriginError):
    """config/schedule.toml is unreadable or disagrees with the library."""


class LibraryError(OriginError):
    """A lesson folder is not a usable HLS package."""


class PackagerError(OriginError):
    """ffmpeg/ffprobe failed or the input cannot be packaged."""


class RequestError(OriginError, HttpError):
    """A client error answered with `status` and a short reason in the body."""

    status = 400


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
