"""The live progress view: one line of totals per sample tick, merged over worker processes."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

PLAIN_EVERY_S = 5.0


class ProgressView:
    def __init__(self, viewers: int, duration_s: float, enabled: bool) -> None:
        self.viewers = viewers
        self.duration_s = duration_s
        self.console = Console(stderr=True)
        self.latest: dict[int, dict[str, Any]] = {}
        self.fancy = enabled and self.console.is_terminal
        self.enabled = enabled
        self._live: Live | None = None
        self._printed_at = 0.0

    def __enter__(self) -> ProgressView:
        if self.fancy:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def publish(self, progress: dict[str, Any]) -> None:
        self.latest[progress["worker"]] = progress
        totals = self.totals()
        if self._live is not None:
            self._live.update(self.render(totals), refresh=True)
        elif self.enabled and time.monotonic() - self._printed_at >= PLAIN_EVERY_S:
            self._printed_at = time.monotonic()
            print(self.plain(totals), file=sys.stderr, flush=True)

    def totals(self) -> dict[str, float]:
        rows = list(self.latest.values())
        summed = {key: sum(row[key] for row in rows) for key in _SUMMED}
        summed["elapsed"] = max(row["elapsed"] for row in rows)
        for key in ("ttfb_p95", "loop_lag_p99"):
            summed[key] = max(row[key] for row in rows)
        return summed

    def plain(self, t: dict[str, float]) -> str:
        return (
            f"[{t['elapsed']:6.0f}s/{self.duration_s:.0f}s] "
            f"viewers {t['viewers']:.0f}/{self.viewers} playing {t['playing']:.0f} "
            f"stalled {t['stalled']:.0f} starting {t['starting']:.0f} | {t['requests']:.0f} req "
            f"{t['bytes'] * 8 / 1e6:.1f} Mbit | ttfb p95 {t['ttfb_p95'] * 1e3:.1f} ms | "
            f"loop lag p99 {t['loop_lag_p99'] * 1e3:.1f} ms cpu {t['cpu']:.2f}"
        )

    def render(self, t: dict[str, float]) -> Table:
        table = Table(title=f"classcast loadtest  {t['elapsed']:.0f}/{self.duration_s:.0f} s")
        for column in (
            "viewers",
            "playing",
            "stalled",
            "starting",
            "req/s",
            "Mbit/s",
            "failures",
            "TTFB p95",
            "cache hit",
            "loop lag p99",
            "CPU",
        ):
            table.add_column(column, justify="right")
        hit = t["cache_hits"] / t["cache_known"] if t["cache_known"] else None
        table.add_row(
            f"{t['viewers']:.0f}/{self.viewers}",
            f"{t['playing']:.0f}",
            f"{t['stalled']:.0f}",
            f"{t['starting']:.0f}",
            f"{t['requests']:.0f}",
            f"{t['bytes'] * 8 / 1e6:.1f}",
            f"{t['failures']:.0f}",
            f"{t['ttfb_p95'] * 1e3:.1f} ms",
            "-" if hit is None else f"{hit:.1%}",
            f"{t['loop_lag_p99'] * 1e3:.1f} ms",
            f"{t['cpu']:.2f}",
        )
        return table


# Per-interval figures that add up across workers (requests and bytes are per second when the
# sample interval is one second, the default).
_SUMMED = (
    "viewers",
    "playing",
    "stalled",
    "starting",
    "requests",
    "bytes",
    "failures",
    "cpu",
    "cache_hits",
    "cache_known",
)
