"""Signed URLs: HMAC-SHA256 over a path (or a path prefix), an expiry and an optional client
address, carried in the query string. Pure: no I/O, the time and the client come in as values.

The token's parameters (`TOKEN_PARAMS`) are dropped from the cache key and from upstream
requests by edge/cache/keys.py, so two viewers with different tokens share one cached copy.
Several keys verify (rotation without downtime); the first one signs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from edge.cache.keys import TOKEN_PARAMS, normalise_path
from edge.errors import RequestError

EXPIRES, PREFIX, CLIENT, SIGNATURE = "cc_exp", "cc_prefix", "cc_ip", "cc_sig"
SIGNED_ROOTS = ("/vod/", "/live/")  # content paths; /healthz, /metrics and admin stay open
MAX_EXPIRY_DIGITS = 12

VerdictKind = Literal["ok", "bad", "expired", "wrong_client"]
STATUS = {"ok": 200, "bad": 403, "expired": 410, "wrong_client": 403}


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    reason: str

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def status(self) -> int:
        return STATUS[self.kind]


OK = Verdict("ok", "token valid")


@dataclass(frozen=True, slots=True)
class Token:
    """What a token grants: `scope` is the exact path, or every path under it if `is_prefix`."""

    scope: str
    is_prefix: bool
    expires: int
    client: str = ""

    def message(self) -> bytes:
        kind = "prefix" if self.is_prefix else "path"
        return f"classcast-v1\n{kind}\n{self.scope}\n{self.expires}\n{self.client}".encode()

    def covers(self, path: str) -> bool:
        return path.startswith(self.scope) if self.is_prefix else path == self.scope


def needs_token(path: str) -> bool:
    return path.startswith(SIGNED_ROOTS)


def canonical_client(address: str) -> str:
    """One spelling per address (an IPv4-mapped IPv6 peer is its IPv4 address); "" if none."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _signature(key: str, token: Token) -> str:
    digest = hmac.new(key.encode(), token.message(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(token: Token, key: str) -> str:
    """The query string (no leading `?`) that carries `token`, signed with `key`."""
    params = {EXPIRES: str(token.expires)}
    if token.is_prefix:
        params[PREFIX] = token.scope
    if token.client:
        params[CLIENT] = token.client
    params[SIGNATURE] = _signature(key, token)
    return urlencode(params)


def token_params(raw_query: str) -> dict[str, str] | None:
    """The token's parameters from a raw query; None when one is given twice (ambiguous)."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        if name in TOKEN_PARAMS:
            if name in found:
                return None
            found[name] = value
    return found


def verify(path: str, raw_query: str, client: str, now: float, keys: Sequence[str]) -> Verdict:
    """Check the token in `raw_query` for the normalised `path`, asked by `client` at `now`.

    The signature is checked before anything it covers is believed: an expiry or a client
    address that does not verify is just a bad token (403), never a 410.
    """
    params = token_params(raw_query)
    if params is None:
        return Verdict("bad", "token parameter given twice")
    if SIGNATURE not in params or EXPIRES not in params:
        return Verdict("bad", "missing token")
    expires = params[EXPIRES]
    if not (expires.isascii() and expires.isdigit() and len(expires) <= MAX_EXPIRY_DIGITS):
        return Verdict("bad", "bad token expiry")
    prefix = params.get(PREFIX)
    token = Token(
        scope=path if prefix is None else prefix,
        is_prefix=prefix is not None,
        expires=int(expires),
        client=params.get(CLIENT, ""),
    )
    given = params[SIGNATURE].encode("ascii", "replace")
    if not any(hmac.compare_digest(_signature(k, token).encode(), given) for k in keys):
        return Verdict("bad", "bad token signature")
    if not token.covers(path):
        return Verdict("bad", "token does not cover this path")
    if now >= token.expires:
        return Verdict("expired", "token expired")
    if token.client and canonical_client(client) != canonical_client(token.client):
        return Verdict("wrong_client", "token bound to another client address")
    return OK


def carried_query(raw_query: str) -> str:
    """The token's parameters, re-encoded, to put on the child URIs of a signed playlist."""
    params = token_params(raw_query) or {}
    order = (EXPIRES, PREFIX, CLIENT, SIGNATURE)
    return urlencode([(name, params[name]) for name in order if name in params])


def sign_url(
    url_path: str, key: str, now: float, ttl: int, prefix: str = "", client: str = ""
) -> str:
    """`url_path` (as given, query kept) with a token for it, or for every path under `prefix`.

    Raises ValueError with a one-line reason for a path, prefix or address the edge would not
    accept.
    """
    raw_path, _, raw_query = url_path.partition("?")
    try:
        path = normalise_path(raw_path)
    except RequestError as exc:
        raise ValueError(f"PATH {raw_path!r}: {exc.reason}") from None
    except UnicodeDecodeError:
        raise ValueError(f"PATH {raw_path!r}: not valid UTF-8") from None
    if ttl <= 0:
        raise ValueError("--ttl must be a positive number of seconds")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"--prefix {prefix!r} must start with /")
    if any(ord(c) < 0x20 or c == "\x7f" for c in prefix):  # keeps the signed fields apart
        raise ValueError(f"--prefix {prefix!r} has a control character")
    if prefix and not path.startswith(prefix):
        raise ValueError(f"--prefix {prefix!r} does not cover {path!r}")
    if client and not canonical_client(client):
        raise ValueError(f"--client-ip {client!r} is not an IP address")
    token = Token(prefix or path, bool(prefix), int(now) + ttl, canonical_client(client))
    return f"{url_path}{'&' if raw_query else '?'}{sign(token, key)}"


REDACTED_SIGNATURE = re.compile(rf"(?<=[?&]{SIGNATURE}=)[^&#]*")


def redact(target: str) -> str:
    """A request target fit for a log: the signature, which would let a log reader replay the
    URL until it expires, is replaced by `-`; the rest (expiry, scope, client) stays."""
    return REDACTED_SIGNATURE.sub("-", target) if SIGNATURE in target else target
