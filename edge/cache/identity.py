"""When two responses are the same object: the one rule for continuing a body others are
reading from another copy (a takeover's new fetch, or the stored file of what was followed)."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDictProxy

from edge.cache.objects import ObjectMeta


@dataclass(frozen=True, slots=True)
class Identity:
    """What tells one representation from another: status, length and validators as the
    origin sent them (None where it sent none)."""

    status: int
    length: int | None
    etag: str | None
    last_modified: str | None


def of_head(status: int, headers: CIMultiDictProxy[str], length: int | None) -> Identity:
    return Identity(status, length, headers.get("ETag"), headers.get("Last-Modified"))


def of_meta(meta: ObjectMeta) -> Identity:
    """A stored object's identity. Its validators are always set (the edge makes one up when
    the origin sent none), so it matches a head without them only if the head had made up the
    same, which it never does: an object without validators is never continued from a copy."""
    return Identity(meta.status, meta.length, meta.etag, meta.last_modified)


def same_object(a: Identity, b: Identity) -> bool:
    """Bytes of `b` may continue a body begun from `a`.

    Stricter than a cache's match for a 304 on purpose: here the two halves of one body come
    from two fetches, and a mix of two objects must never reach a viewer. So, as RFC 9110
    8.8.3.2's strong comparison asks, each validator must be equal, and one missing on either
    side proves nothing: it must be missing on both (then status and length must do, as for a
    segment, immutable by name). Only a complete 200 with a known length is continued: a part
    (206) or an error is another representation.
    """
    return (
        a.status == b.status == 200
        and a.length is not None
        and a.length == b.length
        and a.etag == b.etag
        and a.last_modified == b.last_modified
    )
