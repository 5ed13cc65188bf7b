"""What the edge saw beside the harness's own truth (issue 19): viewers and stalls per content.

The truth: sessions that are watching (they have a media playlist and have not stopped), per
content and cohort, and every rebuffer event by what CMCD made of it. Only phones speak CMCD, and
as hls.js they say a stall by `bs` on their next segment request: a stall that began after a
phone's last segment request is never said, two stalls between two segment requests are said
once, and set-top boxes (no CMCD) never say theirs. The edge's stall count is therefore compared
with the rebuffers CMCD reported (`harness_rebuffers_reportable`), and the rest are shown beside
it by reason, never dropped. The edge's view: `classcast_edge_viewers{content}` and the growth of
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
from loadtest.models.phone import PhoneSession
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


# a content's rebuffer events: "rebuffers" (phones: all) = "told" + "merged" + "after_last" +
# "lost" (loadtest/models/phone.py, StallsTold); "no_cmcd": other cohorts', never reportable
STALL_KEYS = ("rebuffers", "told", "merged", "after_last", "lost", "no_cmcd")


def count_stalls(into: dict[str, dict[str, int]], session: ViewerSession, now: float) -> None:
    """Add one session's rebuffer events, as of `now`, to its content's counts."""
    counts = into.setdefault(content_of(session.master_url), dict.fromkeys(STALL_KEYS, 0))
    if isinstance(session, PhoneSession):
        told = session.stalls_told(now)
        counts["rebuffers"] += told.rebuffers
        counts["told"] += told.told
        counts["merged"] += told.merged
        counts["after_last"] += told.after_last
        counts["lost"] += told.lost
    else:
        session.buffer.advance(now)
        counts["no_cmcd"] += session.buffer.rebuffer_count


def add_stalls(into: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    """Sum another process's stall counts into `into`."""
    for content, counts in more.items():
        mine = into.setdefault(content, dict.fromkeys(STALL_KEYS, 0))
        for key in STALL_KEYS:
            mine[key] += counts.get(key, 0)


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
    stalls: dict[str, dict[str, int]],
    edge_at_probe: dict[str, dict[str, float]] | None,
    edge_before: dict[str, dict[str, float]] | None,
    edge_after: dict[str, dict[str, float]] | None,
) -> dict[str, Any]:
    """Per content: the harness's viewers and rebuffers beside the edge's viewers and stalls.

    `harness_rebuffers` is every phone rebuffer; `harness_rebuffers_reportable` those CMCD
    reported (the like of `edge_stalls`); `harness_rebuffers_unreported` the rest by reason, and
    `harness_rebuffers_no_cmcd` the other cohorts' (set-top boxes), which no edge can count."""
    contents = sorted(set(truth) | {c for c, n in stalls.items() if n["rebuffers"] or n["no_cmcd"]})
    rows = {}
    for content in contents:
        counts = stalls.get(content) or dict.fromkeys(STALL_KEYS, 0)
        row: dict[str, Any] = {
            "harness_viewers": truth.get(content, {}).get("all", 0),
            "harness_by_cohort": {k: v for k, v in truth.get(content, {}).items() if k != "all"},
            "harness_rebuffers": counts["rebuffers"],
            "harness_rebuffers_reportable": counts["told"],
            "harness_rebuffers_unreported": {
                "after_last_request": counts["after_last"],
                "merged_into_one_bs": counts["merged"],
                "request_unanswered": counts["lost"],
            },
            "harness_rebuffers_no_cmcd": counts["no_cmcd"],
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


def summed(seen_by_edge: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Several harness runs' `compare` results summed, for a city (issue 19): the harness's
    truth and rebuffers over every run, the edge's viewers and stalls over every edge, each
    edge's figures from one of the runs that watched through it (they all read the same
    /metrics, at about the same moments). Not said if any edge did not say."""
    rows: dict[str, dict[str, Any]] = {}
    said = True
    for edge, runs in sorted(seen_by_edge.items()):
        for index, seen in enumerate(runs):
            said = said and bool(seen.get("said"))
            for content, row in seen.get("contents", {}).items():
                mine = rows.setdefault(content, _empty_row())
                for key in ("harness_viewers", "harness_rebuffers", "harness_rebuffers_no_cmcd"):
                    mine[key] += row[key]
                mine["harness_rebuffers_reportable"] += row["harness_rebuffers_reportable"]
                for reason, count in row["harness_rebuffers_unreported"].items():
                    unreported = mine["harness_rebuffers_unreported"]
                    unreported[reason] = unreported.get(reason, 0) + count
                cohorts = mine["harness_by_cohort"]
                for cohort, count in row["harness_by_cohort"].items():
                    cohorts[cohort] = cohorts.get(cohort, 0) + count
                mine["edges"] = sorted(set(mine["edges"]) | {edge})
                if index == 0:  # the edge's own figures, once per edge
                    for key in ("edge_viewers", "edge_stalls"):
                        if row[key] is not None:
                            mine[key] = (mine[key] or 0.0) + row[key]
    return {"said": said and bool(rows), "contents": rows}


def _empty_row() -> dict[str, Any]:
    return {
        "harness_viewers": 0,
        "harness_by_cohort": {},
        "harness_rebuffers": 0,
        "harness_rebuffers_reportable": 0,
        "harness_rebuffers_unreported": {},
        "harness_rebuffers_no_cmcd": 0,
        "edge_viewers": None,
        "edge_stalls": None,
        "edges": [],
    }


def verdicts(seen: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Issue 19's accuracy bounds on a `compare` (or `summed`) result, per content: viewers
    within 2 % (+1) of the harness, stalls within 5 % of the rebuffers CMCD reported (the rest
    shown beside, by reason)."""
    found = []
    for content, row in sorted(seen.get("contents", {}).items()):
        truth, counted = row["harness_viewers"], row["edge_viewers"]
        found.append(
            (
                f"{content}: edge viewers within 2 % (+1) of the harness",
                is_close(counted, truth, 0.02),
                f"edge {_shown(counted)}, harness {truth}",
            )
        )
        reportable, stalls = row["harness_rebuffers_reportable"], row["edge_stalls"]
        unreported = ", ".join(
            f"{reason.replace('_', ' ')} {n}"
            for reason, n in row["harness_rebuffers_unreported"].items()
            if n
        )
        found.append(
            (
                f"{content}: edge stalls within 5 % of the rebuffers CMCD reported",
                is_close(stalls, reportable, 0.05, 0),
                f"edge {_shown(stalls)}, reportable {reportable} of {row['harness_rebuffers']} "
                f"phone rebuffers (not reportable: {unreported or 'none'}); "
                f"{row['harness_rebuffers_no_cmcd']} without CMCD",
            )
        )
    return found


def _shown(value: float | None) -> str:
    return "not said" if value is None else f"{value:g}"
