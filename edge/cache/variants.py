"""Vary (RFC 9111 4.1): one stored copy per combination of the request fields a response names.

The primary key (the URL's) holds a small marker naming the fields; each variant is stored under
the primary key plus a digest of the request's values of those fields. A response without Vary
is stored under the primary key itself, so an object that does not vary costs a hit nothing:
the hit path only checks that what it found is not a marker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from edge.cache.freshness import Freshness
from edge.cache.keys import CacheKey
from edge.cache.memory import MemoryObject
from edge.cache.objects import ObjectMeta

VARY_MARKER = 0  # the status of a marker: never an answer
MARKER_TTL = 10 * 365 * 86400.0  # a marker lives until a purge, an eviction or a new answer
ABSENT = "\x00"  # an absent field differs from an empty one


def normalised(value: str | None) -> str:
    """RFC 9111 4.1: values compare after whitespace and list separators are normalised."""
    if value is None:
        return ABSENT
    return ",".join(" ".join(part.split()) for part in value.split(","))


def variant_key(key: CacheKey, fields: tuple[str, ...], asked: Mapping[str, str]) -> CacheKey:
    """The key of the variant `asked` (lower-case request fields) selects."""
    digest = hashlib.blake2b(digest_size=10)
    for name in fields:
        digest.update(f"{name}:{normalised(asked.get(name))}\n".encode("utf-8", "surrogateescape"))
    return replace(key, variant=digest.hexdigest())


def is_marker(meta: ObjectMeta) -> bool:
    return meta.status == VARY_MARKER


def marker_for(variant: ObjectMeta) -> MemoryObject:
    """The primary key's marker for a stored variant."""
    primary = variant.key.partition("#")[0]
    meta = replace(
        variant,
        key=primary,
        status=VARY_MARKER,
        length=0,
        extra={},
        freshness=Freshness(MARKER_TTL),
        playlist=None,
    )
    return MemoryObject(meta, b"")
