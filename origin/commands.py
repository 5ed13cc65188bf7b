"""ffmpeg/ffprobe command lines, built as plain lists so tests can read them."""

from __future__ import annotations

from pathlib import Path

from origin.ladder import Rung

SEGMENT_PATTERN = "seg_%05d.ts"
MEDIA_PLAYLIST = "index.m3u8"


def probe_command(source: Path) -> list[str]:
    return [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_streams",
        "-show_format",
        str(source),
    ]


def keyframe_args(fps: float, segment_seconds: int) -> list[str]:
    """Keyframes exactly every segment_seconds, the same on every rendition.

    Every rendition gets the same forced keyframe times and no scene-cut keyframes, so segment
    boundaries line up across variants and a player can switch at any boundary (RFC 8216
    section 6.2.4: matching content at the same Media Sequence Number in every variant).
    """
    gop = max(1, round(fps * segment_seconds))
    return [
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{segment_seconds})",
    ]


def encode_command(
    source: Path, out_dir: Path, rung: Rung, fps: float, has_audio: bool, segment_seconds: int
) -> list[str]:
    """One rendition as VOD HLS with MPEG-TS segments: out_dir/index.m3u8 + seg_NNNNN.ts."""
    video = [
        "-map",
        "0:v:0",
        "-vf",
        f"scale=-2:{rung.height},format=yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "main",
        "-crf",
        "23",
        "-maxrate",
        f"{rung.video_kbps}k",
        "-bufsize",
        f"{rung.video_kbps * 2}k",
        *keyframe_args(fps, segment_seconds),
    ]
    audio = (
        ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{rung.audio_kbps}k", "-ac", "2", "-ar", "48000"]
        if has_audio
        else []
    )
    hls = [
        "-f",
        "hls",
        "-hls_time",
        str(segment_seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        str(out_dir / SEGMENT_PATTERN),
        str(out_dir / MEDIA_PLAYLIST),
    ]
    head = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(source)]
    return [*head, *video, *audio, *hls]
