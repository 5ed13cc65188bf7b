"""Open connections per client (remote address), so one client cannot take them all."""

from __future__ import annotations


class ConnectionCounter:
    """`limit` connections per client at most; 0 means no limit (but still counted)."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must not be negative")
        self.limit = limit
        self._open: dict[str, int] = {}

    def opened(self, client: str) -> bool:
        """Count a new connection; False (and not counted) if it is one too many: close it."""
        count = self._open.get(client, 0)
        if self.limit and count >= self.limit:
            return False
        self._open[client] = count + 1
        return True

    def closed(self, client: str) -> None:
        """A connection that `opened` accepted has closed."""
        count = self._open.get(client, 0) - 1
        if count > 0:
            self._open[client] = count
        else:
            self._open.pop(client, None)  # idle clients cost no memory

    def count(self, client: str) -> int:
        return self._open.get(client, 0)

    def __len__(self) -> int:
        return len(self._open)
