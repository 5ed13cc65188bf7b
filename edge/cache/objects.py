"""What the edge knows about a stored object, apart from its bytes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from edge.cache.freshness import Freshness
from edge.cache.keys import ObjectKind
from edge.hls import PlaylistKind


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    key: str
    kind: ObjectKind
    status: int
    content_type: str
    length: int
    etag: str
    last_modified: str  # HTTP-date as the origin sent it, or the time we stored it
    last_modified_ts: float | None
    stored_at: float  # wall clock at store or last revalidation
    initial_age: float  # upstream Age when stored (RFC 9111 4.2.3)
    freshness: Freshness
    playlist: PlaylistKind | None = None
    target_duration: float | None = None
    # the origin's other end-to-end fields, as sent: name -> field lines joined by "\n"
    extra: dict[str, str] = field(default_factory=dict)
    vary: tuple[str, ...] = ()  # request fields the response varies on (RFC 9111 4.1)
    authorized: bool = False  # the request that fetched it carried Authorization (3.5)

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at) + self.initial_age

    def revalidated(self, now: float, fresh: Freshness, initial_age: float) -> ObjectMeta:
        return replace(self, stored_at=now, freshness=fresh, initial_age=initial_age)

    @property
    def is_live(self) -> bool:
        return self.playlist == "live"

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: bytes) -> ObjectMeta:
        return cls.from_dict(orjson.loads(data))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ObjectMeta:
        raw = {
            **raw,
            "freshness": Freshness(**raw["freshness"]),
            "vary": tuple(raw.get("vary", ())),
        }
        return cls(**raw)
