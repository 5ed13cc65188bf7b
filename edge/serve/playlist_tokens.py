"""Carry a signed request's token onto the child URIs of the playlist it is served, so real
players (ffmpeg, hls.js) follow a signed master to its renditions and segments. Pure.

Child URIs are the URI lines (segments, variant streams after EXT-X-STREAM-INF) and the
URI="..." attributes of the tags below (RFC 8216 4.3, RFC 8216bis 4.4.4.9, 4.4.5.2-4).
Relative and absolute-path URIs get the token; URIs naming a scheme or another host
(`https://`, `//cdn`, `data:`, `skd:`) and ones that already carry a token are left alone.
"""

from __future__ import annotations

import re

from edge.cache.keys import TOKEN_PARAMS

URI_TAGS = (
    b"#EXT-X-MEDIA:",
    b"#EXT-X-I-FRAME-STREAM-INF:",
    b"#EXT-X-KEY:",
    b"#EXT-X-SESSION-KEY:",
    b"#EXT-X-MAP:",
    b"#EXT-X-PART:",
    b"#EXT-X-PRELOAD-HINT:",
    b"#EXT-X-RENDITION-REPORT:",
)
URI_ATTRIBUTE = re.compile(rb'([:,]\s*URI=")([^"]*)(")')
SCHEME = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*:")
HAS_TOKEN = re.compile(rb"[?&](" + b"|".join(n.encode() for n in sorted(TOKEN_PARAMS)) + rb")=")


def with_token(uri: bytes, token: bytes) -> bytes:
    """`uri` with the token query added, before any fragment; others returned as they are."""
    if not uri or SCHEME.match(uri) or uri.startswith(b"//") or HAS_TOKEN.search(uri):
        return uri
    rest, hash_mark, fragment = uri.partition(b"#")
    joiner = b"&" if b"?" in rest else b"?"
    if rest.endswith((b"?", b"&")):
        joiner = b""
    return rest + joiner + token + hash_mark + fragment


def add_token(body: bytes, token_query: str) -> bytes:
    """The playlist `body` with `token_query` on every child URI it names."""
    if not token_query:
        return body
    token = token_query.encode("ascii")
    lines = body.splitlines(keepends=True)
    for index, line in enumerate(lines):
        text = line.rstrip(b"\r\n")
        end = line[len(text) :]
        stripped = text.strip()
        if not stripped:
            continue
        if not stripped.startswith(b"#"):
            lines[index] = text.replace(stripped, with_token(stripped, token), 1) + end
        elif stripped.startswith(URI_TAGS):
            lines[index] = (
                URI_ATTRIBUTE.sub(
                    lambda m: m.group(1) + with_token(m.group(2), token) + m.group(3), text
                )
                + end
            )
    return b"".join(lines)
