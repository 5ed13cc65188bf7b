"""What the two tiers hold: an object in memory or an entry on disk (DESIGN, "The two tiers")."""

from __future__ import annotations

from edge.cache.disk import DiskEntry
from edge.cache.memory import MemoryObject

Stored = MemoryObject | DiskEntry
