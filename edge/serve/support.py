"""`python -m edge viewers`: the support lookup (GET /_admin/viewers) printed for a person on
the phone with a family whose stream stalls. Pure: the JSON in, lines of text out."""

from __future__ import annotations

import time
from typing import Any

RECENT_SHOWN = 12


def describe(found: dict[str, Any]) -> str:
    who = found.get("client") or found.get("sid") or "?"
    sessions = found.get("sessions") or []
    if not sessions:
        return f"no viewer session for {who} (idle sessions are forgotten after 10 minutes)\n"
    return "\n".join(_session(session) for session in sessions)


def _session(s: dict[str, Any]) -> str:
    state = "WATCHING" if s["watching"] else "not watching"
    cmcd = s["cmcd"]
    lines = [
        f"session {s['session']}  ({s['client']}, {s['user_agent'] or 'no User-Agent'})",
        f"  {state}: {s['content'] or '-'} at {s['rendition'] or '-'}"
        f" (window {s['window_s']:g} s, last seen {_ago(s['last_seen'])})",
    ]
    if cmcd["bitrate_kbps"] is None and cmcd["buffer_s"] is None:
        lines.append("  player reports: none (no CMCD: a set-top box or an older player)")
    else:
        stalled = "STALLED NOW" if cmcd["stalled_now"] else "not stalled now"
        lines.append(
            f"  player reports: bitrate {_or(cmcd['bitrate_kbps'], ' kbit/s')},"
            f" buffer {_or(cmcd['buffer_s'], ' s')},"
            f" throughput {_or(cmcd['throughput_kbps'], ' kbit/s')},"
            f" {cmcd['stalls']} stalls, {stalled}"
        )
    history = s["history"]
    if len(history) > 1:
        steps = " -> ".join(f"{h['rendition'] or h['content']} ({_ago(h['at'])})" for h in history)
        lines.append(f"  renditions: {steps}")
    errors = s["errors"]
    if errors["count"]:
        last = errors["last"]
        lines.append(
            f"  errors: {errors['count']}, last {last['status']} for {last['path']}"
            f" {_ago(last['at'])}"
        )
    else:
        lines.append("  errors: none")
    requests = s["requests"][-RECENT_SHOWN:]
    if requests:
        quiet = s.get("quiet_playlist_hits", 0)
        lines.append(f"  last requests ({quiet} fast playlist hits besides, not listed):")
        for r in requests:
            lines.append(
                f"    {_ago(r['at']):>9} {r['status']} {r['cache']:<11} {r['bytes']:>9} B"
                f" {r['ms']:>9.1f} ms  {r['path'].partition('?')[0]}"
            )
    return "\n".join(lines) + "\n"


def _ago(at: float | None) -> str:
    if not at:
        return "never"
    return f"{max(0.0, time.time() - at):.0f} s ago"


def _or(value: float | None, unit: str) -> str:
    return "?" if value is None else f"{value:g}{unit}"
