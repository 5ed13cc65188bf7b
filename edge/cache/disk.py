"""Disk tier: one file per object under a hashed tree, metadata beside it, an LRU byte budget.

Layout: `<root>/ab/cd/<sha256(key)>-<ns>.data` with `.meta` (JSON) beside it; fills write to
`<root>/tmp/` and are renamed into place only when complete. The `-<ns>` generation makes every
stored file name unique, so deleting an evicted file later can never hit its replacement.
At start-up the index is rebuilt from the metadata; anything that does not check out (temp
files, a data file whose size differs from its metadata, metadata without data) is deleted.
All file-system work runs in worker threads; the event loop only does dictionary work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import LRUCache

from edge.cache.objects import ObjectMeta

log = logging.getLogger("edge.disk")

DATA = ".data"
META = ".meta"


class OpenFile:
    """A data file's descriptor shared by concurrent senders; closed after the last one."""

    __slots__ = ("fd", "retired", "users")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.users = 0
        self.retired = False

    def acquire(self) -> int:
        self.users += 1
        return self.fd

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            os.close(self.fd)

    def retire(self) -> None:
        if not self.retired:
            self.retired = True
            if self.users == 0:
                os.close(self.fd)


@dataclass(slots=True)
class DiskEntry:
    meta: ObjectMeta
    path: Path
    file: OpenFile | None = field(default=None, repr=False)
    headers: tuple[ObjectMeta, object] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return self.meta.length


def _entry_size(entry: DiskEntry) -> int:
    return entry.size


class _EvictingLRU(LRUCache[str, DiskEntry]):
    """An LRU whose evictions are reported, so the files can be deleted."""

    def __init__(self, maxsize: int, on_evict: Callable[[DiskEntry], None]) -> None:
        super().__init__(maxsize, getsizeof=_entry_size)
        self._on_evict = on_evict

    def popitem(self) -> tuple[str, DiskEntry]:
        key, entry = super().popitem()
        self._on_evict(entry)
        return key, entry


class _OpenFiles(LRUCache[str, OpenFile]):
    def popitem(self) -> tuple[str, OpenFile]:
        key, handle = super().popitem()
        handle.retire()
        return key, handle


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DiskTier(ABC):
    """The LRU index of one cache directory, with a byte budget and the hot entries' open
    descriptors: what every process of a node shares. The two kinds say who deletes files:
    a `DiskOwner` (a lone edge, or a node's hub) deletes what its index drops; a `DiskView`
    (a worker of a node) only forgets, and the owner deletes."""

    def __init__(self, root: Path, budget_bytes: int, max_open_files: int = 1024) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.budget = budget_bytes
        self._index = _EvictingLRU(budget_bytes, self._evicted)
        self._open = _OpenFiles(max_open_files)
        self.evictions = 0
        self.errors = 0
        self.on_drop: Callable[[DiskEntry], None] | None = None  # the hot tier forgets its copy

    @abstractmethod
    async def load(self) -> int:
        """Make the index ready; returns the number of entries it starts with."""

    @abstractmethod
    def _hit(self, key: str) -> None:
        """A request is served from the entry for `key`."""

    @abstractmethod
    def _dropped(self, entry: DiskEntry) -> None:
        """The index no longer holds `entry` (evicted, replaced, discarded)."""

    # -- lookups (loop thread, no I/O) ---------------------------------------------------
    def get(self, key: str) -> DiskEntry | None:
        return self._index.get(key)

    def keys(self) -> list[str]:
        return list(self._index.keys())

    def __len__(self) -> int:
        return len(self._index)

    @property
    def bytes_used(self) -> int:
        return int(self._index.currsize)

    def fits(self, length: int) -> bool:
        return length <= self.budget

    def note_hit(self, entry: DiskEntry) -> None:
        """A request was answered from the entry's bytes held elsewhere (the hot tier): it
        still counts for the index's LRU order."""
        self._hit(entry.meta.key)

    def open_hot(self, entry: DiskEntry) -> OpenFile | None:
        """The entry's descriptor if it is open already, acquired for the caller."""
        handle = entry.file
        if handle is None or handle.retired:
            return None
        self._open.get(entry.meta.key)  # touch: keep hot descriptors open
        self._hit(entry.meta.key)
        handle.acquire()
        return handle

    async def open_file(self, entry: DiskEntry) -> OpenFile:
        """The entry's descriptor, acquired for the caller (who releases it). Hot entries keep
        theirs open, so a hit costs no open() or stat()."""
        key = entry.meta.key
        hot = self.open_hot(entry)
        if hot is not None:
            return hot
        self._hit(key)
        fd = await open_for_reading(entry.path)
        handle = entry.file
        if handle is not None and not handle.retired:  # another request won the race
            os.close(fd)
            handle.acquire()
            return handle
        handle = entry.file = OpenFile(fd)
        handle.acquire()
        if self._index.get(key) is entry:
            replaced = self._open.pop(key, None)
            if replaced is not None:
                replaced.retire()
            self._open[key] = handle
        else:
            handle.retire()  # evicted while we opened it: serve this request, then close
        return handle

    # -- writes --------------------------------------------------------------------------
    def temp_path(self, key: str) -> Path:
        return self.tmp / f"{key_digest(key)[:16]}-{os.getpid()}-{time.time_ns()}.part"

    async def commit(self, meta: ObjectMeta, temp: Path) -> DiskEntry:
        """Move a complete temp file into place with its metadata, then index it."""
        digest = key_digest(meta.key)
        path = self.root / digest[:2] / digest[2:4] / f"{digest}-{time.time_ns()}{DATA}"
        await asyncio.to_thread(_place, meta, temp, path)
        entry = DiskEntry(meta, path)
        self._insert(entry)
        return entry

    def adopt(self, entry: DiskEntry) -> None:
        """Index a file another process of the node placed (or refreshed the metadata of)."""
        self._insert(entry)

    async def update_meta(self, entry: DiskEntry, meta: ObjectMeta) -> None:
        """A revalidation refreshed the entry: same bytes, new times."""
        entry.meta = meta
        try:
            await asyncio.to_thread(_write_atomic, entry.path.with_suffix(META), meta.to_json())
        except OSError as exc:
            self.errors += 1
            log.warning("disk meta update failed", extra={"error": str(exc)})

    def discard(self, key: str) -> bool:
        entry = self._index.pop(key, None)
        if entry is not None:
            self._evicted(entry)
        return entry is not None

    def discard_entry(self, entry: DiskEntry) -> bool:
        """Forget this entry (its file is gone), but not a newer one stored meanwhile."""
        return self._index.get(entry.meta.key) is entry and self.discard(entry.meta.key)

    def forget(self, key: str, path: Path) -> bool:
        """Drop the entry for `key` if it is still the one stored at `path`."""
        entry = self._index.get(key)
        if entry is None or entry.path != path:
            return False
        return self.discard(key)

    def _insert(self, entry: DiskEntry) -> None:
        old = self._index.pop(entry.meta.key, None)
        if old is not None and old.path == entry.path:  # new metadata for the same file
            entry.file = entry.file or old.file
        elif old is not None:
            self._evicted(old, counted=False)
        if entry.size > self.budget:
            self._evicted(entry, counted=False)
            return
        self._index[entry.meta.key] = entry

    def _evicted(self, entry: DiskEntry, counted: bool = True) -> None:
        if counted:
            self.evictions += 1
        handle = self._open.pop(entry.meta.key, None)
        if handle is not None:
            handle.retire()
        if entry.file is not None:
            entry.file.retire()
        if self.on_drop is not None:
            self.on_drop(entry)
        self._dropped(entry)

    async def close(self) -> None:
        for handle in list(self._open.values()):
            handle.retire()
        self._open.clear()


class DiskOwner(DiskTier):
    """The tier that owns the directory (a lone edge, or a node's hub): it scans the files at
    start-up, deletes every file its index drops and tells `on_evicted` (the hub tells the
    workers). Only the owner deletes, so the byte budget counts every file."""

    def __init__(self, root: Path, budget_bytes: int, max_open_files: int = 1024) -> None:
        super().__init__(root, budget_bytes, max_open_files)
        self._chores: set[asyncio.Future[None]] = set()
        self.on_evicted: Callable[[DiskEntry], None] | None = None

    async def load(self) -> int:
        """Rebuild the index from disk; returns the number of entries kept."""
        entries = await asyncio.to_thread(self._scan)
        for entry in sorted(entries, key=lambda e: e.meta.stored_at):
            self._insert(entry)
        return len(self._index)

    def _scan(self) -> list[DiskEntry]:
        self.tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        newest: dict[str, DiskEntry] = {}
        for meta_path in self.root.glob(f"??/??/*{META}"):
            entry = _read_entry(meta_path)
            if entry is None:
                _unlink(meta_path, meta_path.with_suffix(DATA))
                continue
            older = newest.get(entry.meta.key)
            if older is not None and older.meta.stored_at >= entry.meta.stored_at:
                _unlink(meta_path, entry.path)
                continue
            if older is not None:
                _unlink(older.path.with_suffix(META), older.path)
            newest[entry.meta.key] = entry
        for half_written in self.root.glob("??/??/*.metatmp"):
            half_written.unlink(missing_ok=True)
        for data_path in self.root.glob(f"??/??/*{DATA}"):
            if not data_path.with_suffix(META).exists():
                data_path.unlink(missing_ok=True)
        return list(newest.values())

    async def recover(self, key: str) -> None:
        """A worker died while it filled `key`: index a file it placed but did not report,
        delete one it left without metadata (the budget counts every file). Files placed
        from now on (a takeover's) are not its: the generation in a name is its commit time."""
        found = await asyncio.to_thread(self._unindexed, key, time.time_ns())
        for entry in found:
            if entry is not None and self.get(key) is None:
                self._insert(entry)
            elif entry is not None:
                self.delete_files(entry.path)

    def _unindexed(self, key: str, before_ns: int) -> list[DiskEntry | None]:
        digest = key_digest(key)
        indexed = self.get(key)
        found: list[DiskEntry | None] = []
        for data_path in (self.root / digest[:2] / digest[2:4]).glob(f"{digest}-*{DATA}"):
            generation = data_path.stem.rpartition("-")[2]
            if not generation.isdigit() or int(generation) >= before_ns:
                continue
            if indexed is not None and data_path == indexed.path:
                continue
            entry = _read_entry(data_path.with_suffix(META))
            if entry is None:
                _unlink(data_path, data_path.with_suffix(META))
            found.append(entry)
        return found

    def delete_files(self, path: Path) -> None:
        """Delete a data file and its metadata that the index does not hold."""
        self._chore(_unlink, path, path.with_suffix(META))

    def _hit(self, key: str) -> None:
        pass  # the owner's hits keep its LRU order as they look entries up

    def _dropped(self, entry: DiskEntry) -> None:
        self.delete_files(entry.path)
        if self.on_evicted is not None:
            self.on_evicted(entry)

    def _chore(self, fn: Callable[..., None], *args: Path) -> None:
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._chores.add(future)
        future.add_done_callback(self._chores.discard)

    async def deleted(self) -> None:
        """Wait until the files dropped so far are deleted (the threads doing it are done)."""
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)

    async def close(self) -> None:
        await self.deleted()
        await super().close()


class DiskView(DiskTier):
    """A worker's view of its node's directory: it starts empty and learns entries from the hub
    (or places them itself), forgets what the hub evicted, collects its hits in `touched` for
    the hub's LRU order, reports an entry it found broken through `on_forget`, and never
    deletes a file: the owner does."""

    def __init__(self, root: Path, budget_bytes: int, max_open_files: int = 1024) -> None:
        super().__init__(root, budget_bytes, max_open_files)
        self.touched: set[str] = set()  # disk hits since the view last reported them
        self.on_forget: Callable[[DiskEntry], None] | None = None

    async def load(self) -> int:
        """A view starts empty: it learns of each entry from its owner when it first misses it."""
        return 0

    def discard_entry(self, entry: DiskEntry) -> bool:
        forgotten = super().discard_entry(entry)
        if forgotten and self.on_forget is not None:
            self.on_forget(entry)
        return forgotten

    def _hit(self, key: str) -> None:
        self.touched.add(key)

    def _dropped(self, entry: DiskEntry) -> None:
        pass  # the files are the owner's, deleted when its own index drops them


async def open_for_reading(path: Path) -> int:
    """os.open in a worker thread; a caller cancelled meanwhile does not leak the descriptor."""
    opening = asyncio.ensure_future(asyncio.to_thread(os.open, path, os.O_RDONLY))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(opening: asyncio.Future[int]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        os.close(opening.result())


def _read_entry(meta_path: Path) -> DiskEntry | None:
    try:
        meta = ObjectMeta.from_json(meta_path.read_bytes())
        data_path = meta_path.with_suffix(DATA)
        size = data_path.stat().st_size
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if size != meta.length or not meta_path.name.startswith(key_digest(meta.key)):
        return None
    return DiskEntry(meta, data_path)


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_suffix(".metatmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _place(meta: ObjectMeta, temp: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # data first, then metadata: a crash between the two leaves data without metadata,
    # which the start-up scan deletes
    os.replace(temp, path)
    _write_atomic(path.with_suffix(META), meta.to_json())


def _unlink(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
