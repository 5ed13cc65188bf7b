"""Request counters by path, read by tests through GET /_stats."""

from __future__ import annotations

from collections import Counter


class RequestStats:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"RequestStats(total={self.total})"

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def record(self, path: str) -> None:
        self._counts[path] += 1

    def reset(self) -> None:
        self._counts.clear()

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def snapshot(self) -> dict[str, object]:
        return {"requests": dict(self._counts), "total": self.total}
