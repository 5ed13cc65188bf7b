"""Reject request targets that try to leave the library, before any routing or file access."""

from __future__ import annotations

from urllib.parse import unquote


def path_problem(raw_path: str) -> str | None:
    """The reason a raw (still percent-encoded) path is refused, or None if it is acceptable."""
    path = raw_path.partition("?")[0]
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered:
        return "encoded slash in path"
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return "percent-encoded path is not UTF-8"
    if "\x00" in decoded:
        return "NUL byte in path"
    if "\\" in decoded:
        return "backslash in path"
    if any(part in (".", "..") for part in decoded.split("/")):
        return "path traversal ('..') in path"
    return None
