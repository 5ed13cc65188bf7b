"""Every message between a node's supervisor (hub.py) and its workers (link.py), and the one
table that encodes and decodes them (as h11's events: a kind name for each class).

A frame is two big-endian 32-bit lengths, a JSON header (orjson, the kind under "t" and the
fields) and a raw payload (a small object's body, never base64): the one `bytes` field of the
few messages that carry a body. Frames arrive in the order they were sent, which the protocol
leans on: what the supervisor says before a reply is known to the worker when the reply comes.
A frame that is not a message in the table raises `BadMessage`.
"""

from __future__ import annotations

import struct
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import orjson

from edge.cache.flight import Outcome
from edge.errors import EdgeError

FRAME = struct.Struct("!II")
MAX_FRAME = 64 * 1024**2  # a body the RAM tier may hold, with room for its metadata

Role = Literal["fill", "follow", "newer"]
Tier = Literal["memory", "disk"]
Json = dict[str, Any]


class BadMessage(EdgeError):
    """A frame that is no message of the table: an unknown kind, a missing, unknown or
    mistyped field. The receiver logs it, counts it and reads on."""


# -- a worker's misses, and the fills it runs (worker -> hub, then hub -> its followers) ------
@dataclass(frozen=True, slots=True)
class Ready:
    """The worker serves: a start or reload may go on."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Who fetches `key`? `have` is the stored time of the copy the worker holds, if any."""

    id: int
    key: str
    have: float | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """The answer to claim `id`: fetch it, follow another worker's fetch, or take the newer
    copy that came just before."""

    id: int
    key: str
    role: Role


@dataclass(frozen=True, slots=True)
class FillHead:
    """The filler has the upstream head; `meta` is what the head says of the object (its
    freshness, computed once); `temp` is the file the body grows in, if any."""

    key: str
    status: int
    headers: list[list[str]]  # [name, value] pairs, as JSON has them
    length: int | None
    meta: Json
    temp: str | None


@dataclass(frozen=True, slots=True)
class FillGrew:
    """The first `file_end` bytes of the body are in the temp file."""

    key: str
    file_end: int


@dataclass(frozen=True, slots=True)
class FillDone:
    """The fill ended; `body` is a body nobody stored (it reached no tier)."""

    key: str
    outcome: Outcome
    meta: Json | None
    file_end: int
    error: str | None = None
    status: int | None = None
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Abandoned:
    """Nobody fetches `key` any more (its filler died, or let go of a claim it no longer
    needed): its followers claim again, and one of them takes the fill over."""

    key: str


# -- the node's index (both ways) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Stored:
    """An object stored or revalidated; `epoch` is how many of the node's purges the worker
    that stored it had applied; `body` is a memory object's bytes."""

    key: str
    tier: Tier
    meta: Json
    path: str | None
    epoch: int
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Touch:
    """Disk hits since the last report, so the node's LRU order follows every worker's."""

    keys: list[str]


@dataclass(frozen=True, slots=True)
class Gone:
    """A worker found the file of `key` gone: the node forgets it too."""

    key: str
    path: str


@dataclass(frozen=True, slots=True)
class Evict:
    """The node's budget evicted `key`: every worker's view forgets it."""

    key: str
    path: str


@dataclass(frozen=True, slots=True)
class Report:
    """A worker's counters, sent now and then: kept when it dies."""

    snapshot: Json


# -- questions to every worker: a scrape and a purge -------------------------------------------
@dataclass(frozen=True, slots=True)
class Gather:
    id: int


@dataclass(frozen=True, slots=True)
class AskSnapshot:
    ask: int


@dataclass(frozen=True, slots=True)
class SnapshotReply:
    ask: int
    snapshot: Json


@dataclass(frozen=True, slots=True)
class Gathered:
    id: int
    total: Json
    workers: list[Json]


@dataclass(frozen=True, slots=True)
class Purge:
    id: int
    target: str
    prefix: bool


@dataclass(frozen=True, slots=True)
class PurgeOrder:
    ask: int
    epoch: int
    target: str
    prefix: bool


@dataclass(frozen=True, slots=True)
class PurgedHere:
    ask: int
    keys: list[str]


@dataclass(frozen=True, slots=True)
class Purged:
    id: int
    count: int


# -- a support lookup (GET /_admin/viewers): every worker's sessions of one viewer ------------
@dataclass(frozen=True, slots=True)
class Lookup:
    id: int
    client: str
    sid: str


@dataclass(frozen=True, slots=True)
class AskLookup:
    ask: int
    client: str
    sid: str


@dataclass(frozen=True, slots=True)
class LookupReply:
    ask: int
    sessions: list[Json]


@dataclass(frozen=True, slots=True)
class Looked:
    id: int
    sessions: list[Json]


Message = (
    Ready
    | Claim
    | Claimed
    | FillHead
    | FillGrew
    | FillDone
    | Abandoned
    | Stored
    | Touch
    | Gone
    | Evict
    | Report
    | Gather
    | AskSnapshot
    | SnapshotReply
    | Gathered
    | Purge
    | PurgeOrder
    | PurgedHere
    | Purged
    | Lookup
    | AskLookup
    | LookupReply
    | Looked
)

# The table: each kind's name on the wire. A class missing here fails the table test.
KINDS: dict[str, type[Message]] = {
    "ready": Ready,
    "claim": Claim,
    "claimed": Claimed,
    "head": FillHead,
    "grew": FillGrew,
    "done": FillDone,
    "abandoned": Abandoned,
    "stored": Stored,
    "touch": Touch,
    "gone": Gone,
    "evict": Evict,
    "report": Report,
    "gather": Gather,
    "ask_snapshot": AskSnapshot,
    "snapshot": SnapshotReply,
    "gathered": Gathered,
    "purge": Purge,
    "purge_order": PurgeOrder,
    "purged_here": PurgedHere,
    "purged": Purged,
    "lookup": Lookup,
    "ask_lookup": AskLookup,
    "lookup_reply": LookupReply,
    "looked": Looked,
}
PAYLOAD = "body"  # the one field that travels as the raw payload, never in the JSON header


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    accepts: Callable[[Any], bool]
    required: bool


def _accepts(hint: Any) -> Callable[[Any], bool]:
    """A check of a decoded JSON value against a field's type (containers by their kind)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        checks = [_accepts(arg) for arg in get_args(hint)]
        return lambda value: any(check(value) for check in checks)
    if origin is Literal:
        allowed = get_args(hint)
        return lambda value: value in allowed
    if hint is Any:
        return lambda value: True
    if hint is float:
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    runtime = origin or hint
    return lambda value: isinstance(value, runtime)


def _fields(cls: type[Message]) -> tuple[_Field, ...]:
    hints = get_type_hints(cls)
    return tuple(
        _Field(f.name, _accepts(hints[f.name]), f.default is MISSING)
        for f in fields(cls)
        if f.name != PAYLOAD
    )


_NAMES = {cls: kind for kind, cls in KINDS.items()}
_FIELDS = {cls: _fields(cls) for cls in KINDS.values()}
_CARRIES = {cls: any(f.name == PAYLOAD for f in fields(cls)) for cls in KINDS.values()}


def encode(message: Message) -> bytes:
    cls = type(message)
    header: Json = {"t": _NAMES[cls]}
    for field in _FIELDS[cls]:
        header[field.name] = getattr(message, field.name)
    payload: bytes = getattr(message, PAYLOAD) if _CARRIES[cls] else b""
    head = orjson.dumps(header)
    return FRAME.pack(len(head), len(payload)) + head + payload


def decode(head: bytes, payload: bytes) -> Message:
    """The message of one frame's header and payload, or BadMessage saying what is wrong."""
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BadMessage("header is not a JSON object")
    kind = header.pop("t", None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadMessage(f"unknown message kind {kind!r}")
    values: dict[str, Any] = {}
    for field in _FIELDS[cls]:
        if field.name not in header:
            if field.required:
                raise BadMessage(f"{kind}: missing field {field.name!r}")
            continue
        value = header.pop(field.name)
        if not field.accepts(value):
            raise BadMessage(f"{kind}: field {field.name!r} has a wrong value {value!r:.60}")
        values[field.name] = value
    if header:
        raise BadMessage(f"{kind}: unknown fields {sorted(header)}")
    if payload:
        if not _CARRIES[cls]:
            raise BadMessage(f"{kind}: carries no payload, got {len(payload)} bytes")
        values[PAYLOAD] = payload
    return cls(**values)


def frames(buffer: bytearray) -> tuple[list[tuple[bytes, bytes]], int]:
    """The complete frames at the start of `buffer` as (header, payload), and how many bytes
    they took. Raises BadMessage for a frame larger than MAX_FRAME (framing is lost then)."""
    found, offset = [], 0
    while len(buffer) - offset >= FRAME.size:
        head_len, payload_len = FRAME.unpack_from(buffer, offset)
        if head_len + payload_len > MAX_FRAME:
            raise BadMessage(f"frame of {head_len + payload_len} bytes, over {MAX_FRAME}")
        start = offset + FRAME.size
        end = start + head_len + payload_len
        if len(buffer) < end:
            break
        found.append(
            (bytes(buffer[start : start + head_len]), bytes(buffer[start + head_len : end]))
        )
        offset = end
    return found, offset
