"""The lesson library: every valid HLS folder under the content directory is a lesson."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from origin.errors import LibraryError
from origin.hls import VariantRef, parse_master, parse_media
from origin.models import Lesson, Rendition, is_safe_name

MASTER = "master.m3u8"
TITLE_FILE = "lesson.toml"
log = logging.getLogger("origin.library")

Signature = tuple[int, int]  # (mtime_ns, size) of master.m3u8


class Library:
    """Lessons by id. Re-scanning only re-reads folders whose master playlist changed."""

    def __init__(self, root: Path, clock: Callable[[], float], rescan_interval: float) -> None:
        self.root = root
        self._clock = clock
        self._rescan_interval = rescan_interval
        self._lessons: dict[str, Lesson] = {}
        self._signatures: dict[str, Signature] = {}
        self._scanned_at: float | None = None

    def __repr__(self) -> str:
        return f"Library({str(self.root)!r}, lessons={sorted(self._lessons)})"

    @property
    def lessons(self) -> dict[str, Lesson]:
        return dict(self._lessons)

    def get(self, lesson_id: str) -> Lesson | None:
        return self._lessons.get(lesson_id)

    def is_due_for_rescan(self) -> bool:
        last = self._scanned_at
        return last is None or self._clock() - last >= self._rescan_interval

    def scan(self) -> None:
        if not self.root.is_dir():
            raise LibraryError(f"content directory {self.root} does not exist")
        lessons: dict[str, Lesson] = {}
        signatures: dict[str, Signature] = {}
        for folder in sorted(self.root.iterdir()):
            master = folder / MASTER
            if not is_safe_name(folder.name) or not master.is_file():
                continue
            stat = master.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            known = self._lessons.get(folder.name)
            if known is not None and self._signatures.get(folder.name) == signature:
                lessons[folder.name], signatures[folder.name] = known, signature
                continue
            try:
                lessons[folder.name] = load_lesson(folder)
                signatures[folder.name] = signature
            except (LibraryError, OSError, UnicodeDecodeError) as error:
                log.warning(
                    "skipping lesson folder", extra={"folder": str(folder), "error": str(error)}
                )
        self._lessons, self._signatures = lessons, signatures
        self._scanned_at = self._clock()


def load_lesson(folder: Path) -> Lesson:
    variants = parse_master((folder / MASTER).read_text(), f"{folder.name}/{MASTER}")
    renditions = tuple(_load_rendition(folder, variant) for variant in variants)
    names = [rendition.name for rendition in renditions]
    if len(set(names)) != len(names):
        raise LibraryError(f"{folder.name}: two variants share a rendition name ({names})")
    details = read_details(folder)
    title = _text(details, "title") or folder.name
    return Lesson(
        folder.name, title, folder, renditions, _text(details, "grade"), _text(details, "subject")
    )


def _load_rendition(folder: Path, variant: VariantRef) -> Rendition:
    uri = PurePosixPath(variant.uri)
    if uri.is_absolute() or ".." in uri.parts or "://" in variant.uri:
        raise LibraryError(f"{folder.name}: variant URI {variant.uri!r} must be relative inside")
    name = uri.parent.name if uri.parent.name else uri.stem
    if not is_safe_name(name):
        raise LibraryError(f"{folder.name}: rendition name {name!r} is not a safe name")
    where = f"{folder.name}/{variant.uri}"
    segments = parse_media((folder / uri).read_text(), where)
    return Rendition(
        name,
        variant.uri,
        variant.bandwidth,
        variant.average_bandwidth,
        variant.resolution,
        variant.codecs,
        segments,
    )


def read_details(folder: Path) -> dict[str, object]:
    """The optional lesson.toml: `title`, `grade` and `subject`, each a string."""
    try:
        with (folder / TITLE_FILE).open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _text(details: dict[str, object], key: str) -> str:
    value = details.get(key)
    return value.strip() if isinstance(value, str) else ""
