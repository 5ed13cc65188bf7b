"""The harness's exceptions: one small hierarchy, translated at the I/O boundary."""

from classcast.errors import ClasscastError
from classcast.errors import ConfigError as ConfigError  # one for every service


class LoadtestError(ClasscastError):
    """Base of every error the harness raises on purpose."""


class PlaylistError(LoadtestError):
    """A playlist the harness cannot parse or use (RFC 8216 section 6.3.2)."""


class ThresholdError(ConfigError):
    """A threshold expression that does not parse."""


class TransportError(LoadtestError):
    """A request that failed below HTTP: refused, reset, closed mid-answer, timed out, garbled."""
