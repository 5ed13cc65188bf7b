"""The harness's exceptions: one small hierarchy, translated at the I/O boundary."""


class LoadtestError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigError(LoadtestError):
    """Bad configuration or command-line input; the message names the offending key."""


class PlaylistError(LoadtestError):
    """A playlist the harness cannot parse or use (RFC 8216 section 6.3.2)."""


class ThresholdError(ConfigError):
    """A threshold expression that does not parse."""


class TransportError(LoadtestError):
    """A request that failed below HTTP: refused, reset, closed mid-answer, timed out, garbled."""
