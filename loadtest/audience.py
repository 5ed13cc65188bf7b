"""What the edge saw beside the harness's own truth (issue 19): viewers and stalls per content.

The truth: sessions that are watching (they have a media playlist and have not stopped), per
content and cohort, and the phones' rebuffer events (the only viewers that say so, by CMCD
`bs`). The edge's view: `classcast_edge_viewers{content}` and the growth of
`classcast_edge_stalls_total{content}` over the run, read from its /metrics. An edge that has no
such metrics (nginx, an older edge) is reported as not saying.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from loadtest.cmcd import content_of
from loadtest.models.session import ViewerSession

SCRAPE_TIMEOUT_S = 3.0


def watching(sessions: Iterable[ViewerSession | None], now: float) -> dict[str, dict[str, int]]:
    """Per content, the sessions watching now by cohort (and "all")."""
    found: dict[str, dict[str, int]] = {}
    for session in sessions:
        if session is None or session.done or not session.views:
            continue
        if session.state(now) in ("failed", "ended"):
            continue
        counts = found.setdefault(content_of(session.master_url), {"all": 0})
        counts["all"] += 1
        counts[session.cohort] = counts.get(session.cohort, 0) + 1
    return found


def metrics_url(target: str) -> str:
    parts = urlsplit(target.split(",")[0].strip())
    return f"{parts.scheme}://{parts.netloc}/metrics"


async def scrape(url: str) -> dict[str, dict[str, float]] | None:
    """viewers{content} and stalls_total{content} from an edge's /metrics (None: not said)."""
    parts = urlsplit(url)
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            request = f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
            writer.write(request.encode())
            data = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
        return None
    figures: dict[str, dict[str, float]] = {"viewers": {}, "stalls": {}}
    try:
        for family in text_string_to_metric_families(body.decode("utf-8", "replace")):
            for sample in family.samples:
                if sample.name == "classcast_edge_viewers":
                    figures["viewers"][sample.labels.get("content", "")] = sample.value
                elif sample.name == "classcast_edge_stalls_total":
                    figures["stalls"][sample.labels.get("content", "")] = sample.value
    except ValueError:
        return None
    return figures if figures["viewers"] or figures["stalls"] else None


def compare(
    truth: dict[str, dict[str, int]],
    rebuffers: dict[str, int],
    edge_at_probe: dict[str, dict[str, float]] | None,
    edge_before: dict[str, dict[str, float]] | None,
    edge_after: dict[str, dict[str, float]] | None,
) -> dict[str, Any]:
    """Per content: the harness's viewers and rebuffers beside the edge's viewers and stalls."""
    contents = sorted(set(truth) | set(rebuffers))
    rows = {}
    for content in contents:
        row: dict[str, Any] = {
            "harness_viewers": truth.get(content, {}).get("all", 0),
            "harness_by_cohort": {k: v for k, v in truth.get(content, {}).items() if k != "all"},
            "harness_rebuffers": rebuffers.get(content, 0),
            "edge_viewers": None,
            "edge_stalls": None,
        }
        if edge_at_probe is not None:
            row["edge_viewers"] = edge_at_probe["viewers"].get(content, 0.0)
        if edge_after is not None:
            before = (edge_before or {"stalls": {}})["stalls"].get(content, 0.0)
            row["edge_stalls"] = edge_after["stalls"].get(content, 0.0) - before
        rows[content] = row
    return {"said": edge_at_probe is not None, "contents": rows}


def is_close(edge: float | None, truth: int, share: float, plus: int = 1) -> bool:
    """Issue 19's bound: within `share` of the truth, plus `plus`."""
    return edge is not None and abs(edge - truth) <= truth * share + plus
