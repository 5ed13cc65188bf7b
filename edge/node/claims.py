"""A worker's side of a miss in a node: ask the hub who fetches, until this worker fetches or
the fill is answered (another worker's fetch followed to its end, or the node's newer copy).
This is how a worker implements the cache's `FillCoordinator.before_fetch`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.cache.coordinator import Verdict
from edge.cache.disk import DiskEntry
from edge.cache.flight import Fill
from edge.cache.freshness import judge
from edge.cache.tiers import Stored
from edge.node.takeover import complete_from

if TYPE_CHECKING:
    from edge.node.link import NodeLink

MAX_CLAIMS = 3  # a node that keeps answering "newer" with nothing usable: fetch anyway


async def claim_until_answered(link: NodeLink, fill: Fill, stale: Stored | None) -> Verdict:
    """Fetch here (revalidating the returned copy), or nothing when the fill was answered."""
    followed = False
    for _ in range(MAX_CLAIMS):
        role = await link.claim(fill, stale.meta.stored_at if stale else None)
        if fill.finished.done():  # answered meanwhile: fetch nothing, hold no claim
            if role == "fill":
                link.release(fill)
            return Verdict(False, stale, followed)
        if role == "fill":
            return Verdict(True, stale, followed)
        if role == "follow":
            followed = True
            if await link.follow(fill):
                return Verdict(False, stale, followed)
            continue  # its filler died: claim again (one fetches, the rest follow it)
        newer = _newer_copy(link, fill, stale)  # "newer": the node's copy arrived just before
        if newer is None:
            continue
        if judge(newer.meta.age(link.clock()), newer.meta.freshness) == "expired":
            stale = newer  # the node's copy is old too: revalidate it
            continue
        if fill.file_end and not (isinstance(newer, DiskEntry) and complete_from(fill, newer)):
            continue  # waiters are part-way through a body: only its file can finish it
        fill.meta, fill.revalidated, fill.label = newer.meta, newer, "HIT"
        fill.finish("stored")
        return Verdict(False, stale, followed)
    return Verdict(True, stale, followed)


def _newer_copy(link: NodeLink, fill: Fill, stale: Stored | None) -> Stored | None:
    stored = link.lookup(str(fill.key))
    if stored is None or (stale and stored.meta.stored_at <= stale.meta.stored_at):
        return None
    return stored
