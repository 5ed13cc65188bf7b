"""CMCD, Common Media Client Data (CTA-5004, version 1): what a player says of itself on each
request, as one `CMCD=` query argument or as four `CMCD-*` headers. Pure: a request's target
and headers in, the keys it carried out, with a count of what was malformed.

CTA-5004 section 3.3 (data payload): comma-separated `key=value` pairs; a Boolean true is the
key alone; Strings are double-quoted (a `"` or `\\` inside is backslash-escaped); Tokens and
numbers are bare. A value of the wrong type, or a known key with a bad value, is malformed: it
is ignored and counted, and the request is served as if it were absent (section 3.4: a server
must not fail a request for its CMCD). Keys this version does not know (custom keys with a
hyphen, later versions' keys) are ignored without counting.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote

HEADERS = ("cmcd-request", "cmcd-object", "cmcd-status", "cmcd-session")
QUERY_KEY = "CMCD="
MAX_STRING = 64  # section 3.3: sid and cid are at most 64 characters
MAX_URL = 2048  # nor, nrr: a relative URL or a byte range

Kind = Literal["int", "dec", "bool", "str", "url", "token"]
# CTA-5004 table 1 (every v1 key) and its type
KEYS: dict[str, Kind] = {
    "br": "int",  # encoded bitrate, kbps (CMCD-Object)
    "d": "int",  # object duration, ms (CMCD-Object)
    "ot": "token",  # object type (CMCD-Object)
    "tb": "int",  # top bitrate, kbps (CMCD-Object)
    "bl": "int",  # buffer length, ms (CMCD-Request)
    "dl": "int",  # deadline, ms (CMCD-Request)
    "mtp": "int",  # measured throughput, kbps (CMCD-Request)
    "nor": "url",  # next object request, relative URL (CMCD-Request)
    "nrr": "url",  # next range request, "<start>-<end>" (CMCD-Request)
    "su": "bool",  # startup (CMCD-Request)
    "cid": "str",  # content id (CMCD-Session)
    "pr": "dec",  # playback rate (CMCD-Session)
    "sf": "token",  # streaming format (CMCD-Session)
    "sid": "str",  # session id (CMCD-Session)
    "st": "token",  # stream type (CMCD-Session)
    "v": "int",  # version (CMCD-Session)
    "bs": "bool",  # buffer starvation (CMCD-Status)
    "rtp": "int",  # requested maximum throughput, kbps (CMCD-Status)
}
TOKENS = {
    "ot": frozenset({"m", "a", "v", "av", "i", "c", "tt", "k", "o"}),
    "sf": frozenset({"d", "h", "s", "o"}),
    "st": frozenset({"v", "l"}),
}

Value = int | float | bool | str
ESCAPES = (("%3D", "="), ("%2C", ","), ("%22", '"'), ("%2F", "/"), ("%3d", "="), ("%2c", ","))


def carries_cmcd(target: str, headers: dict[str, str]) -> bool:
    """The cheap test every request pays: most set-top boxes send no CMCD at all."""
    if QUERY_KEY in target:
        return True
    return bool(headers) and any(name in headers for name in HEADERS)


def request_cmcd(target: str, headers: dict[str, str]) -> tuple[dict[str, Value], int]:
    """The CMCD keys of a request (query and headers merged; the query wins) and the number of
    malformed values ignored."""
    values: dict[str, Value] = {}
    malformed = 0
    for name in HEADERS:
        payload = headers.get(name)
        if payload:
            malformed += parse_into(payload, values)
    query = target.partition("?")[2]
    if QUERY_KEY in query:
        for argument in query.split("&"):
            if argument.startswith(QUERY_KEY):
                try:
                    payload = _unquoted_query(argument[len(QUERY_KEY) :])
                except UnicodeDecodeError:
                    malformed += 1
                    continue
                malformed += parse_into(payload, values)
    return values, malformed


def _unquoted_query(text: str) -> str:
    """Percent-decoding of the escapes encodeURIComponent makes in CMCD (= , " /) by replace,
    the rest by `unquote`: urllib's alone cost 4 us of a phone's 10 us request (BENCHMARKS.md,
    "Viewers: cost"). Each replaced escape yields no "%", so the rest is still decoded once."""
    for escape, plain in ESCAPES:
        if escape in text:
            text = text.replace(escape, plain)
    return unquote(text, errors="strict") if "%" in text else text


def parse_into(payload: str, values: dict[str, Value]) -> int:
    """Add the pairs of one payload to `values`; returns how many were malformed."""
    malformed = 0
    for key, raw in pairs(payload):
        kind = KEYS.get(key)
        if kind is None:
            malformed += not _is_key(key)
            continue
        value = _typed(key, kind, raw)
        if value is None:
            malformed += 1
        else:
            values[key] = value
    return malformed


def pairs(payload: str) -> list[tuple[str, str | None]]:
    """Split a payload on the commas outside quoted strings: (key, raw value or None)."""
    found: list[tuple[str, str | None]] = []
    pending = ""
    for piece in payload.split(","):
        if pending:
            piece = f"{pending},{piece}"
            pending = ""
        if '"' in piece and (piece.count('"') - piece.count('\\"')) % 2:
            pending = piece  # a comma inside a quoted String: join the next piece
            continue
        key, eq, raw = piece.partition("=")
        key = key.strip()
        if key or eq:
            found.append((key, raw.strip() if eq else None))
    if pending:
        key, eq, raw = pending.partition("=")
        found.append((key.strip(), raw.strip() if eq else None))
    return found


def _is_key(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "-._" for c in key)


def _typed(key: str, kind: Kind, raw: str | None) -> Value | None:
    if kind == "bool":  # true is the key alone; "=true"/"=false" are tolerated
        if raw is None or raw == "true":
            return True
        return False if raw == "false" else None
    if raw is None:
        return None
    if kind == "int":
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 15 else None
    if kind == "dec":
        try:
            number = float(raw)
        except ValueError:
            return None
        return number if 0 <= number < 1e6 else None
    if kind == "token":
        return raw if raw in TOKENS[key] else None
    text = _unquoted(raw)
    if text is None or not text or len(text) > (MAX_STRING if kind == "str" else MAX_URL):
        return None
    return text


def _unquoted(raw: str) -> str | None:
    """A quoted String's text (section 3.3), or None when it is not one."""
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return None
    body = raw[1:-1]
    if "\\" not in body:
        return None if '"' in body else body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in '"\\':
                return None
            out.append(body[i + 1])
            i += 2
            continue
        if c == '"':
            return None
        out.append(c)
        i += 1
    return "".join(out)
