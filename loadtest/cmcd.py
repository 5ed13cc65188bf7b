"""CMCD (CTA-5004) as hls.js sends it: one `CMCD=` query argument, keys in alphabetical order,
values rounded as the spec asks (bl to 100 ms, mtp to 100 kbps). Pure: the phone model says what
it knows, this writes the argument. `bs` goes on the first segment request after a stall began,
never on a playlist request (hls.js keeps one "starved" flag and clears it once sent on a video
or init segment request: two stalls between two segment requests are one `bs`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

STRINGS = frozenset({"cid", "sid", "nor"})


@dataclass(frozen=True, slots=True)
class PlayerState:
    sid: str
    cid: str
    live: bool
    kind: str  # master, playlist, segment
    bitrate_kbps: int = 0
    top_kbps: int = 0
    duration_ms: int = 0
    buffer_ms: int = -1
    throughput_kbps: int = 0
    starting: bool = False
    starved: bool = False
    nor: str = ""


def content_of(url: str) -> str:
    """The content a master URL names (live/<channel>, vod/<lesson>): the CMCD cid."""
    parts = urlsplit(url).path.strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) >= 3 else "/".join(parts[:-1])


def query(state: PlayerState) -> str:
    pairs: dict[str, str | int | bool] = {
        "sid": state.sid,
        "sf": "h",
        "st": "l" if state.live else "v",
    }
    if state.cid:
        pairs["cid"] = state.cid
    if state.kind == "segment":
        pairs["ot"] = "av"
        if state.bitrate_kbps:
            pairs["br"] = state.bitrate_kbps
        if state.top_kbps:
            pairs["tb"] = state.top_kbps
        if state.duration_ms:
            pairs["d"] = state.duration_ms
        if state.nor:
            pairs["nor"] = state.nor
    else:
        pairs["ot"] = "m"
    if state.buffer_ms >= 0:
        pairs["bl"] = round(state.buffer_ms / 100) * 100
    if state.throughput_kbps:
        pairs["mtp"] = max(100, round(state.throughput_kbps / 100) * 100)
    if state.starting:
        pairs["su"] = True
    if state.starved:
        pairs["bs"] = True
    return "CMCD=" + quote(",".join(_pair(k, pairs[k]) for k in sorted(pairs)), safe="")


def _pair(key: str, value: str | int | bool) -> str:
    if value is True:
        return key
    if key in STRINGS:
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'{key}="{text}"'
    return f"{key}={value}"
