"""Cut an MPEG-TS segment into LL-HLS partial segments at video frame starts (pure).

A part boundary is the first video PES whose decode time reaches the next multiple of the part
duration from the segment's first frame, so a part holds whole frames in decode order. Each part
after the first is served with the segment's leading PSI packets (PAT, PMT) in front, so a
player that tunes in at any part can find the streams (ISO/IEC 13818-1 2.4.4).
"""

from __future__ import annotations

from dataclasses import dataclass

PACKET = 188
SYNC = 0x47
CLOCK_HZ = 90_000
VIDEO_STREAM_IDS = range(0xE0, 0xF0)  # ISO/IEC 13818-1 table 2-22: video stream_id 1110 xxxx


class TsError(ValueError):
    """A body that is not a packet-aligned transport stream with video."""


@dataclass(frozen=True)
class Part:
    start: int  # byte offset into the segment, on a packet boundary
    end: int
    duration: float  # seconds, from the decode times of the frames it holds
    independent: bool  # starts on a random access point (adaptation field RAI, a keyframe)


@dataclass(frozen=True)
class PartLayout:
    psi: bytes  # the PAT/PMT packets before the first PES, prepended to parts after the first
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class _Frame:
    offset: int
    dts: int
    random_access: bool


def cut_parts(body: bytes, part_duration: float, segment_duration: float) -> PartLayout:
    """The parts of one segment: boundaries every `part_duration` seconds of decode time."""
    frames = _video_frames(body)
    if not frames:
        raise TsError("no video PES with a timestamp")
    first = frames[0].dts
    step = round(part_duration * CLOCK_HZ)
    starts = [frames[0]]
    for frame in frames[1:]:
        if (frame.dts - first) % (1 << 33) >= step * len(starts):
            starts.append(frame)
    total = round(segment_duration * CLOCK_HZ)
    parts = []
    for index, frame in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else None
        end_dts = following.dts - first if following else max(total, frame.dts - first + 1)
        parts.append(
            Part(
                start=0 if index == 0 else frame.offset,
                end=following.offset if following else len(body),
                duration=(end_dts - (frame.dts - first)) / CLOCK_HZ,
                independent=frame.random_access,
            )
        )
    return PartLayout(body[: frames[0].offset], tuple(parts))


def part_body(body: bytes, layout: PartLayout, index: int) -> bytes:
    part = layout.parts[index]
    prefix = layout.psi if index > 0 else b""
    return prefix + body[part.start : part.end]


def _video_frames(body: bytes) -> list[_Frame]:
    if len(body) % PACKET or not body:
        raise TsError(f"length {len(body)} is not a whole number of {PACKET}-byte packets")
    frames = []
    for offset in range(0, len(body), PACKET):
        if body[offset] != SYNC:
            raise TsError(f"lost sync at byte {offset}")
        header = body[offset + 1]
        if not header & 0x40:  # payload_unit_start_indicator: a PES begins in this packet
            continue
        control = (body[offset + 3] >> 4) & 0x3
        payload = offset + 4
        random_access = False
        if control & 0x2:  # adaptation field present
            length = body[offset + 4]
            random_access = length > 0 and bool(body[offset + 5] & 0x40)
            payload += 1 + length
        if not control & 0x1 or payload + 9 > offset + PACKET:
            continue
        pes = body[payload : offset + PACKET]
        if pes[:3] != b"\x00\x00\x01" or pes[3] not in VIDEO_STREAM_IDS:
            continue
        dts = _decode_time(pes)
        if dts is not None:
            frames.append(_Frame(offset, dts, random_access))
    return frames


def _decode_time(pes: bytes) -> int | None:
    """DTS if present, else PTS (ISO/IEC 13818-1 2.4.3.7: PTS_DTS_flags)."""
    flags = pes[7] >> 6
    if flags == 0b11 and len(pes) >= 19:
        return _timestamp(pes[14:19])
    if flags == 0b10 and len(pes) >= 14:
        return _timestamp(pes[9:14])
    return None


def _timestamp(field: bytes) -> int:
    return (
        ((field[0] >> 1) & 0x07) << 30
        | field[1] << 22
        | (field[2] >> 1) << 15
        | field[3] << 7
        | field[4] >> 1
    )
