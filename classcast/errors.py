"""The base of every service's small hierarchy (STYLE 7): what a client is told (`HttpError`)
and what stops a service at start-up (`ConfigError`) are written once, here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self


class ClasscastError(Exception):
    """Base of every error a classcast service raises on purpose."""


class ConfigError(ClasscastError):
    """A setting or start-up input that stops the service with this one line."""

    def __init__(self, message: str, *, key: str = "", source: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.source = source  # where the value came from: a file, a variable, "" for the rest

    @classmethod
    def for_key(cls, key: str, problem: str, source: str = "") -> Self:
        """The one shape of a bad setting: `key: problem (where it came from)`."""
        where = f" ({source})" if source else ""
        return cls(f"{key}: {problem}{where}", key=key, source=source)


class HttpError(ClasscastError):
    """Answered to a client with `status`, a short `reason` as the body and extra `headers`."""

    status = 500

    def __init__(self, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.reason!r})"
