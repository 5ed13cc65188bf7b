"""Read a media file's streams with ffprobe and name its codecs the way RFC 6381 does."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from origin.commands import probe_command
from origin.errors import PackagerError

# RFC 6381 section 3.3: avc1.PPCCLL = profile_idc, constraint flags, level_idc in hex.
AVC_PROFILE_PREFIX = {
    "Baseline": "42E0",
    "Constrained Baseline": "42E0",
    "Main": "4D40",
    "High": "6400",
}
AAC_LC = "mp4a.40.2"
PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    fps: float
    duration: float
    video_codec: str | None
    audio_codec: str | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def codecs(self) -> str:
        return ",".join(codec for codec in (self.video_codec, self.audio_codec) if codec)


def probe(path: Path) -> MediaInfo:
    if not path.is_file():
        raise PackagerError(f"{path}: no such file")
    try:
        done = subprocess.run(probe_command(path), capture_output=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackagerError(f"ffprobe failed on {path}: {error}") from error
    if done.returncode != 0:
        first_line = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise PackagerError(f"{path}: not a readable video ({' '.join(first_line) or 'ffprobe'})")
    return parse_probe(json.loads(done.stdout), path)


def parse_probe(report: dict[str, Any], path: Path) -> MediaInfo:
    streams = report.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and s.get("height")), None)
    if video is None:
        raise PackagerError(f"{path}: not a video (no video stream)")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return MediaInfo(
        width=int(video["width"]),
        height=int(video["height"]),
        fps=_frame_rate(video.get("avg_frame_rate") or video.get("r_frame_rate") or "25/1"),
        duration=float(report.get("format", {}).get("duration") or 0.0),
        video_codec=_video_codec(video),
        audio_codec=AAC_LC if audio is not None and audio.get("codec_name") == "aac" else None,
    )


def _frame_rate(text: str) -> float:
    numerator, _, denominator = text.partition("/")
    try:
        rate = float(numerator) / float(denominator or 1)
    except (ValueError, ZeroDivisionError):
        return 25.0
    return rate if rate > 0 else 25.0


def _video_codec(stream: dict[str, Any]) -> str | None:
    prefix = AVC_PROFILE_PREFIX.get(str(stream.get("profile")))
    level = stream.get("level")
    if stream.get("codec_name") != "h264" or prefix is None or not isinstance(level, int):
        return None
    return f"avc1.{prefix}{level:02X}".lower()
