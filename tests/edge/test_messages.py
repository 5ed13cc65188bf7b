"""The node's message table: every message survives a frame, and a frame that is no message
raises one clear error that the receiving channel logs, counts and reads past."""

from __future__ import annotations

import asyncio
import socket
from typing import get_args

import orjson
import pytest

from edge.node import messages as m
from edge.node.channel import open_channel

META = {"key": "/v/a.ts", "length": 3}
EXAMPLES: list[m.Message] = [
    m.Ready(),
    m.Claim(1, "/v/a.ts", None),
    m.Claim(2, "/v/a.ts", 1_800_000_000.5),
    m.Claimed(1, "/v/a.ts", "follow"),
    m.FillHead("/v/a.ts", 200, [["ETag", '"e"'], ["Via", "1.1 a"]], 3, META, "/tmp/x.part"),
    m.FillHead("/v/a.ts", 404, [], None, META, None),
    m.FillGrew("/v/a.ts", 65536),
    m.FillDone("/v/a.ts", "stored", META, 3),
    m.FillDone("/v/a.m3u8", "passed", META, 0, body=b"#EXTM3U\n"),
    m.FillDone("/v/a.ts", "failed", None, 10, "upstream timed out", 504),
    m.Abandoned("/v/a.ts"),
    m.Stored("/v/a.m3u8", "memory", META, None, 0, b"#EXTM3U\n\x00\xff"),
    m.Stored("/v/a.ts", "disk", META, "/c/ab/cd/x.data", 3),
    m.Touch(["/v/a.ts", "/v/b.ts"]),
    m.Gone("/v/a.ts", "/c/ab/cd/x.data"),
    m.Evict("/v/a.ts", "/c/ab/cd/x.data"),
    m.Report({"requests": {"HIT": 2}}),
    m.Gather(7),
    m.AskSnapshot(3),
    m.SnapshotReply(3, {"requests": {}}),
    m.Gathered(7, {"requests": {}}, [{"index": 0, "pid": 12, "gauges": {}}]),
    m.Purge(8, "/v/", True),
    m.PurgeOrder(4, 2, "/v/", True),
    m.PurgedHere(4, ["/v/a.ts"]),
    m.Purged(8, 1),
    m.Lookup(9, "127.0.0.2", ""),
    m.AskLookup(5, "", "phone-1"),
    m.LookupReply(5, [{"session": "sid:phone-1", "history": [{"at": 1.5}]}]),
    m.Looked(9, []),
]


def test_every_message_class_has_one_kind_in_the_table() -> None:
    classes = set(get_args(m.Message))
    assert set(m.KINDS.values()) == classes
    assert len(m.KINDS) == len(classes) == 24


def test_the_examples_cover_every_kind() -> None:
    assert {type(example) for example in EXAMPLES} == set(m.KINDS.values())


def _one_frame(data: bytes) -> tuple[bytes, bytes]:
    found, used = m.frames(bytearray(data))
    assert used == len(data) and len(found) == 1
    return found[0]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda message: type(message).__name__)
def test_a_message_survives_its_frame(message: m.Message) -> None:
    head, payload = _one_frame(m.encode(message))
    assert m.decode(head, payload) == message
    assert orjson.loads(head)["t"] in m.KINDS
    assert payload == getattr(message, "body", b"")  # a body travels raw, never in JSON


def test_frames_split_anywhere_are_read_whole() -> None:
    data = b"".join(m.encode(message) for message in EXAMPLES)
    buffer, got = bytearray(), []
    for start in range(0, len(data), 7):
        buffer += data[start : start + 7]
        found, used = m.frames(buffer)
        del buffer[:used]
        got += [m.decode(head, payload) for head, payload in found]
    assert got == EXAMPLES and not buffer


@pytest.mark.parametrize(
    ("header", "payload", "error"),
    [
        (b"not json", b"", "header is not JSON"),
        (b"[1]", b"", "header is not a JSON object"),
        (b'{"key": "/v/a.ts"}', b"", "unknown message kind None"),
        (b'{"t": "clamed", "id": 1, "key": "/a", "role": "fill"}', b"", "unknown message kind"),
        (b'{"t": "claimed", "id": 1, "key": "/a"}', b"", "claimed: missing field 'role'"),
        (b'{"t": "claimed", "id": 1, "key": "/a", "role": "lead"}', b"", "wrong value 'lead'"),
        (b'{"t": "claimed", "id": "1", "key": "/a", "role": "fill"}', b"", "field 'id'"),
        (b'{"t": "claim", "id": 1, "key": "/a", "have": true}', b"", "field 'have'"),
        (b'{"t": "gather", "id": 1, "extra": 2}', b"", "gather: unknown fields ['extra']"),
        (b'{"t": "gather", "id": 1}', b"body", "gather: carries no payload"),
    ],
)
def test_a_frame_that_is_no_message_says_why(header: bytes, payload: bytes, error: str) -> None:
    with pytest.raises(m.BadMessage, match=error.replace("[", r"\[").replace("]", r"\]")):
        m.decode(header, payload)


def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    with pytest.raises(m.BadMessage, match="over"):
        m.frames(bytearray(m.FRAME.pack(m.MAX_FRAME, 1)))


async def test_a_channel_counts_a_bad_frame_and_reads_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = socket.socketpair()
    got: list[m.Message] = []
    arrived = asyncio.Event()

    def received(message: m.Message) -> None:
        got.append(message)
        if len(got) == 2:
            arrived.set()

    channel = await open_channel(theirs, received, lambda: None)
    bad = b'{"t": "clamed"}'
    ours.sendall(m.encode(m.Gather(1)) + m.FRAME.pack(len(bad), 0) + bad + m.encode(m.Purged(2, 0)))
    async with asyncio.timeout(5):
        await arrived.wait()
    assert got == [m.Gather(1), m.Purged(2, 0)]
    assert channel.bad_messages == 1
    assert [r.getMessage() for r in caplog.records] == ["bad node message"]
    channel.close()
    ours.close()
