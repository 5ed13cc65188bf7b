"""RAM tier: playlists, init segments, keys, small objects; an LRU with a byte budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetools import LRUCache

from edge.cache.objects import ObjectMeta

ENTRY_OVERHEAD = 512  # rough bytes per entry for the key, meta and prebuilt headers


@dataclass(slots=True)
class MemoryObject:
    meta: ObjectMeta
    body: bytes
    headers: tuple[ObjectMeta, object] | None = field(default=None, repr=False)  # prebuilt

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD


def _size(obj: MemoryObject) -> int:
    return obj.size


class MemoryTier:
    def __init__(self, budget_bytes: int, max_object_bytes: int) -> None:
        self.max_object_bytes = max_object_bytes
        self._cache: LRUCache[str, MemoryObject] = LRUCache(budget_bytes, getsizeof=_size)

    def get(self, key: str) -> MemoryObject | None:
        try:  # one LRU lookup on a hit, where Cache.get would make two
            return self._cache[key]
        except KeyError:
            return None

    def fits(self, length: int) -> bool:
        return length + ENTRY_OVERHEAD <= min(self.max_object_bytes, self._cache.maxsize)

    def put(self, obj: MemoryObject) -> bool:
        if not self.fits(len(obj.body)):
            return False
        self._cache[obj.meta.key] = obj
        return True

    def discard(self, key: str) -> bool:
        return self._cache.pop(key, None) is not None

    @property
    def bytes_used(self) -> int:
        return int(self._cache.currsize)

    def keys(self) -> list[str]:
        return list(self._cache.keys())

    def __len__(self) -> int:
        return len(self._cache)
