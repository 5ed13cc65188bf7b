"""`origin package`: turn one video into a lesson folder (rendition ladder + master playlist)."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from origin.commands import MEDIA_PLAYLIST, encode_command
from origin.errors import PackagerError
from origin.hls import parse_media
from origin.ladder import DEFAULT_LADDER, Rung, select_rungs
from origin.models import Rendition, is_safe_name
from origin.playlists import render_master
from origin.probe import probe

SEGMENT_SECONDS = 4
ENCODE_TIMEOUT_S = 3600
log = logging.getLogger("origin.packager")


def package(
    source: Path,
    lesson_id: str,
    content: Path,
    title: str | None = None,
    ladder: tuple[Rung, ...] = DEFAULT_LADDER,
    force: bool = False,
    *,
    grade: str = "",
    subject: str = "",
) -> Path:
    """Package `source` as content/<lesson_id>/; returns the lesson folder."""
    target = _check_target(lesson_id, content, force)
    info = probe(source)
    rungs = select_rungs(ladder, info.height)
    staging = content / f".tmp-{lesson_id}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        renditions = [_encode(source, staging, rung, info.fps, info.has_audio) for rung in rungs]
        (staging / "master.m3u8").write_text(render_master(renditions))
        (staging / "lesson.toml").write_text(lesson_toml(title or lesson_id, grade, subject))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # the library never sees a half-written lesson
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def lesson_toml(title: str, grade: str, subject: str) -> str:
    # A JSON string is a valid TOML basic string (quotes, backslashes and controls escaped).
    details = {"title": title, "grade": grade, "subject": subject}
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in details.items() if value)


def _check_target(lesson_id: str, content: Path, force: bool) -> Path:
    if not is_safe_name(lesson_id):
        raise PackagerError(f"--lesson: {lesson_id!r} is not a safe id ([A-Za-z0-9._-]+)")
    target = content / lesson_id
    if target.exists() and not force:
        raise PackagerError(f"lesson {lesson_id!r} already exists in {content} (use --force)")
    content.mkdir(parents=True, exist_ok=True)
    return target


def _encode(source: Path, staging: Path, rung: Rung, fps: float, has_audio: bool) -> Rendition:
    out_dir = staging / rung.name
    out_dir.mkdir(parents=True)
    command = encode_command(source, out_dir, rung, fps, has_audio, SEGMENT_SECONDS)
    log.info("encoding", extra={"rendition": rung.name})
    try:
        done = subprocess.run(command, capture_output=True, timeout=ENCODE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackagerError(f"ffmpeg failed for {rung.name}: {error}") from error
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise PackagerError(f"ffmpeg failed for {rung.name}: {' '.join(reason)}")
    return describe_rendition(out_dir, rung.name)


def describe_rendition(out_dir: Path, name: str) -> Rendition:
    """Master-playlist attributes measured from the encoded files (RFC 8216 4.3.4.2)."""
    segments = parse_media((out_dir / MEDIA_PLAYLIST).read_text(), str(out_dir))
    sizes = [(out_dir / segment.uri).stat().st_size for segment in segments]
    peak, average = measure_bandwidth(sizes, [segment.duration for segment in segments])
    first = probe(out_dir / segments[0].uri)
    return Rendition(
        name=name,
        uri=f"{name}/{MEDIA_PLAYLIST}",
        bandwidth=peak,
        average_bandwidth=average,
        resolution=(first.width, first.height),
        codecs=first.codecs or None,
        segments=segments,
    )


def measure_bandwidth(sizes: Sequence[int], durations: Sequence[float]) -> tuple[int, int]:
    """(peak, average) bits per second.

    RFC 8216 4.3.4.2: BANDWIDTH is the peak segment bit rate, AVERAGE-BANDWIDTH the average
    segment bit rate of the variant stream.
    """
    rates = [
        size * 8 / duration for size, duration in zip(sizes, durations, strict=True) if duration > 0
    ]
    total_time = sum(durations)
    if not rates or total_time <= 0:
        raise PackagerError("cannot measure bandwidth of an empty rendition")
    return math.ceil(max(rates)), math.ceil(sum(sizes) * 8 / total_time)
