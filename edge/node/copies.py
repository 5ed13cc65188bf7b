"""A stored object as a `Stored` message and back, and where a worker or the hub holds it."""

from __future__ import annotations

from pathlib import Path

from edge.cache.disk import DiskEntry, DiskTier
from edge.cache.memory import MemoryObject, MemoryTier
from edge.cache.objects import ObjectMeta
from edge.cache.tiers import Stored
from edge.node import messages as m


def stored_message(stored: Stored, epoch: int) -> m.Stored:
    meta = stored.meta
    if isinstance(stored, MemoryObject):
        return m.Stored(meta.key, "memory", meta.to_dict(), None, epoch, stored.body)
    return m.Stored(meta.key, "disk", meta.to_dict(), str(stored.path), epoch)


def stored_object(message: m.Stored) -> Stored:
    meta = ObjectMeta.from_dict(message.meta)
    if message.tier == "memory" or message.path is None:
        return MemoryObject(meta, message.body)
    return DiskEntry(meta, Path(message.path))


def place(stored: Stored, memory: MemoryTier, disk: DiskTier) -> None:
    """Hold `stored` in the tier it belongs to, and no copy of it in the other one."""
    name = stored.meta.key
    if isinstance(stored, MemoryObject):
        memory.put(stored)
        disk.discard(name)
    else:
        memory.discard(name)
        disk.adopt(stored)
