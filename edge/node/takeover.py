"""What a follower does with a body its viewers are part-way through when the fill's first
copy goes (the filler died, or moved its temp file into the tier before it was opened): it
finishes the body from a stored file of the same object, or (edge/cache/fetch.py) fetches it
again and goes on where its viewers are."""

from __future__ import annotations

import os

from edge.cache.disk import DiskEntry, OpenFile
from edge.cache.flight import Fill, Head
from edge.cache.identity import Identity, of_meta, same_object


def complete_from(fill: Fill, entry: DiskEntry, begun: Identity | None = None) -> bool:
    """Finish a partly followed body from the stored file of the same object as `begun` (by
    default the head its viewers were sent); False if it is another object, or its file is
    gone."""
    if begun is None:
        head = fill.head.result() if fill.head.done() else None
        begun = head.identity if isinstance(head, Head) else None
    if begun is not None and not same_object(begun, of_meta(entry.meta)):
        return False
    try:
        fd = os.open(entry.path, os.O_RDONLY)
    except OSError:
        return False
    fill.take_reader(OpenFile(fd))
    fill.file_reached(entry.size)
    return True
