"""Library files read into memory once, with content-hash ETags, under a byte budget."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os
from cachetools import LRUCache

FileKey = tuple[str, int, int]  # (path, mtime_ns, size): a changed file is a new key


@dataclass(frozen=True)
class FileObject:
    body: bytes
    etag: str
    modified: float


def etag_for(body: bytes) -> str:
    # A hash of the bytes, not of inode or mtime, so every origin replica sends the same ETag
    # for the same object and an edge can revalidate against any of them (RFC 9110 8.8.3).
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class FileStore:
    def __init__(self, budget_bytes: int) -> None:
        self._cache: LRUCache[FileKey, FileObject] = LRUCache(
            maxsize=max(1, budget_bytes), getsizeof=lambda item: max(1, len(item.body))
        )

    def __repr__(self) -> str:
        return f"FileStore({self._cache.currsize}/{self._cache.maxsize} bytes)"

    async def read(self, path: Path) -> FileObject:
        """Raises OSError (FileNotFoundError, IsADirectoryError...) like open() would."""
        stat = await aiofiles.os.stat(path)
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with aiofiles.open(path, "rb") as file:
            body = await file.read()
        item = FileObject(body, etag_for(body), stat.st_mtime)
        if len(body) <= self._cache.maxsize:
            self._cache[key] = item
        return item
