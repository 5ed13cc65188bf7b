"""The packager runs real ffmpeg on a tiny source; the sample library is real media."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import m3u8
import pytest

from origin.errors import PackagerError
from origin.ladder import DEFAULT_LADDER, Rung, parse_ladder, select_rungs
from origin.packager import measure_bandwidth, package

from .conftest import CONTENT, ROOT

SMALL_LADDER = (Rung(240, 300, 64), Rung(180, 150, 48), Rung(144, 100, 32))


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 s, 256x180, 25 fps, with a tone."""
    path = tmp_path_factory.mktemp("src") / "tiny.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=256x180:rate=25:duration=5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=500:duration=5",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def test_package_makes_a_lesson_no_taller_than_the_source(tiny_video: Path, tmp_path: Path) -> None:
    folder = package(tiny_video, "tiny", tmp_path, "Tiny", SMALL_LADDER)
    master = m3u8.loads((folder / "master.m3u8").read_text())
    assert [p.uri for p in master.playlists] == ["180p/index.m3u8", "144p/index.m3u8"]
    for variant in master.playlists:
        assert variant.stream_info.resolution[1] <= 180
        assert variant.stream_info.bandwidth >= variant.stream_info.average_bandwidth > 0
        assert "mp4a.40.2" in variant.stream_info.codecs
        media = m3u8.loads((folder / variant.uri).read_text())
        assert media.is_endlist and media.playlist_type == "vod"
        assert media.target_duration == 4
        assert [round(s.duration) for s in media.segments] == [4, 1]
        assert all((folder / "180p" / s.uri).name.startswith("seg_") for s in media.segments)
    assert (folder / "lesson.toml").read_text() == 'title = "Tiny"\n'


def test_existing_lesson_needs_force(tiny_video: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(PackagerError, match="already exists"):
        package(tiny_video, "taken", tmp_path, ladder=SMALL_LADDER)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent.mp4", "--lesson", "x"], "origin: /nonexistent.mp4: no such file"),
        (["pyproject.toml", "--lesson", "x"], "origin: pyproject.toml: not a"),
        (["pyproject.toml", "--lesson", "../x"], "origin: --lesson: '../x' is not a safe id"),
        (["pyproject.toml", "--lesson", "x", "--ladder", "720"], "origin: --ladder: '720' is not"),
    ],
)
def test_cli_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "origin", "package", *args, "--content", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(message)


def test_ladder_selection_and_parsing() -> None:
    assert [r.name for r in select_rungs(DEFAULT_LADDER, 720)] == ["720p", "480p", "360p", "240p"]
    assert [r.name for r in select_rungs(DEFAULT_LADDER, 100)] == ["240p"]
    assert parse_ladder("360:700:96,720:2800:128") == (Rung(720, 2800, 128), Rung(360, 700, 96))


def test_bandwidth_is_peak_and_average_segment_rate() -> None:
    assert measure_bandwidth([1000, 3000], [4.0, 4.0]) == (6000, 4000)


def test_sample_segment_has_audio_and_video() -> None:
    segment = CONTENT / "reading-stories/180p/seg_00004.ts"
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(segment)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    streams = {s["codec_type"]: s for s in json.loads(done.stdout)["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (320, 180)
    assert streams["audio"]["codec_name"] == "aac"


def test_sample_library_is_small_and_complete() -> None:
    lessons = sorted(p.name for p in CONTENT.iterdir() if p.is_dir())
    assert lessons == ["math-fractions", "reading-stories", "science-water-cycle"]
    size = sum(p.stat().st_size for p in CONTENT.rglob("*") if p.is_file())
    assert size <= 12 * 1024 * 1024
